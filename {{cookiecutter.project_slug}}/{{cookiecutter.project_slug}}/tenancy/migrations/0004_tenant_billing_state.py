from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("tenancy", "0003_routing_version"),
    ]

    operations = [
        migrations.AddField(
            model_name="tenant",
            name="billing_status",
            field=models.CharField(default="active", editable=False, max_length=20),
        ),
        migrations.AddField(
            model_name="tenant",
            name="billing_past_due_since",
            field=models.DateTimeField(blank=True, editable=False, null=True),
        ),
        migrations.AddField(
            model_name="tenant",
            name="billing_period_end",
            field=models.DateTimeField(blank=True, editable=False, null=True),
        ),
        migrations.AddField(
            model_name="tenant",
            name="billing_trial_end",
            field=models.DateTimeField(blank=True, editable=False, null=True),
        ),
    ]
