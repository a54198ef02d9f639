"""The "Organization administrators" group: its members may start trials and manage subscriptions
(marketplace.manage_connectors). Superusers have every permission anyway."""

from django.db import migrations

GROUP = "Organization administrators"
CODENAME = "manage_connectors"
NAME = "Can start trials and manage subscriptions of connectors"


def add_group(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    Permission = apps.get_model("auth", "Permission")
    Group = apps.get_model("auth", "Group")
    # Permissions are created after the last migration (post_migrate): make this one now to give it to the group.
    content_type, _ = ContentType.objects.get_or_create(app_label="marketplace", model="connector")
    permission, _ = Permission.objects.get_or_create(
        content_type=content_type, codename=CODENAME, defaults={"name": NAME}
    )
    group, _ = Group.objects.get_or_create(name=GROUP)
    group.permissions.add(permission)


def remove_group(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name=GROUP).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("marketplace", "0002_catalogue"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(add_group, remove_group)]
