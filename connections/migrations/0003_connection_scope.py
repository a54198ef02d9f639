from django.db import migrations, models

CHOICES = [
    ("private", "Private (the owner and administrators)"),
    ("organization", "Organization (every signed-in user may use and TEST it)"),
]
HELP = "Only the owner and administrators may edit or delete a connection, or replace its secrets."


class Migration(migrations.Migration):
    dependencies = [
        ("connections", "0002_azure_ad_sign_in"),
    ]

    # Connections saved before scopes existed were visible to everyone: they keep that (Organization);
    # new connections are Private unless their owner chooses otherwise.
    operations = [
        migrations.AddField(
            model_name="connection",
            name="scope",
            field=models.CharField(
                choices=CHOICES, default="organization", help_text=HELP, max_length=16, verbose_name="Scope"
            ),
        ),
        migrations.AlterField(
            model_name="connection",
            name="scope",
            field=models.CharField(
                choices=CHOICES, default="private", help_text=HELP, max_length=16, verbose_name="Scope"
            ),
        ),
    ]
