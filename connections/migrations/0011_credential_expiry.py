from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("connections", "0010_scheduled_tests"),
    ]

    operations = [
        migrations.AddField(
            model_name="connection",
            name="credential_expires_at",
            field=models.DateTimeField(blank=True, editable=False, null=True),
        ),
        migrations.AddField(
            model_name="connection",
            name="credential_expiry_read_at",
            field=models.DateTimeField(blank=True, editable=False, null=True),
        ),
        migrations.AddField(
            model_name="connection",
            name="credential_expiry_of",
            field=models.CharField(blank=True, default="", editable=False, max_length=64),
        ),
        migrations.AddField(
            model_name="connection",
            name="secret_expires_on",
            field=models.DateField(
                blank=True,
                help_text="Optional: the date in the Expires column of the app registration's Certificates & secrets "
                "page. Not needed when the app may read its own credentials (Microsoft Graph's Application.Read.All).",
                null=True,
                verbose_name="Secret expires",
            ),
        ),
        migrations.AddField(
            model_name="connection",
            name="expiry_warned_level",
            field=models.PositiveSmallIntegerField(default=0, editable=False),
        ),
    ]
