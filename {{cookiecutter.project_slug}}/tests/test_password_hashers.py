"""The password hashers of the base (hence production) settings: Argon2 hashes, bcrypt and PBKDF2 still verify."""

import bcrypt
from django.contrib.auth.hashers import check_password, identify_hasher, make_password
from django.test import override_settings

from config.settings import base

PASSWORD = "violet-harbour-lantern-42"


def test_argon2_hashes_new_passwords_and_bcrypt_and_pbkdf2_are_kept():
    assert base.PASSWORD_HASHERS[0] == "django.contrib.auth.hashers.Argon2PasswordHasher"
    assert "django.contrib.auth.hashers.BCryptSHA256PasswordHasher" in base.PASSWORD_HASHERS
    assert "django.contrib.auth.hashers.PBKDF2PasswordHasher" in base.PASSWORD_HASHERS

    with override_settings(PASSWORD_HASHERS=base.PASSWORD_HASHERS):
        encoded = make_password(PASSWORD)
        assert identify_hasher(encoded).algorithm == "argon2"
        assert check_password(PASSWORD, encoded)


def test_a_bcrypt_hash_of_an_imported_user_verifies_and_is_upgraded_to_argon2():
    # As another system stores it: bcrypt of the password itself, and Django's bcrypt of its SHA-256.
    imported = "bcrypt$" + bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()
    upgraded: list[str] = []

    with override_settings(PASSWORD_HASHERS=base.PASSWORD_HASHERS):
        sha256_variant = make_password(PASSWORD, hasher="bcrypt_sha256")
        assert check_password(PASSWORD, imported, setter=lambda raw: upgraded.append(make_password(raw)))
        assert check_password(PASSWORD, sha256_variant)
        assert not check_password("wrong-password-123", imported)
        pbkdf2 = make_password(PASSWORD, hasher="pbkdf2_sha256")
        assert check_password(PASSWORD, pbkdf2)

    assert len(upgraded) == 1 and upgraded[0].startswith("argon2$")
