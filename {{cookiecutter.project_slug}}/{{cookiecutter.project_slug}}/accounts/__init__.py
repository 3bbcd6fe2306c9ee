"""Accounts: global users (email login, public schema), memberships with roles, invitations, sessions.

Owns the User, Membership, Invitation, LoginToken and BrowserSession models; the role rules in plain
Python (`domain.py`); the services that write them (`services.py` for users and memberships,
`invitations.py`, `login_tokens.py` for the one-time crossing from one host to another); their reads
(`selectors.py`); who counts as logged in on a tenant host (`middleware.py`: members only) and what each role
may do there (`permissions.py`: the rule table, `member_required` for views, the API's permission), the tenant
admin site for owners and admins, and the allauth adapter, forms and views of login and team pages.
May import: `tenancy` (the Tenant a membership points at) and `errors`; never `lifecycle`, `fleet`,
the public site or a tenant app.
"""
