from django.db import migrations

GROUP = "Organization administrators"


def grant(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    ContentType = apps.get_model("contenttypes", "ContentType")
    content_type, _ = ContentType.objects.get_or_create(app_label="audit", model="auditevent")
    permission, _ = Permission.objects.get_or_create(
        codename="view_audit_trail", content_type=content_type, defaults={"name": "Can see the audit trail"}
    )
    group, _ = Group.objects.get_or_create(name=GROUP)
    group.permissions.add(permission)


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    for group in Group.objects.filter(name=GROUP):
        group.permissions.remove(*group.permissions.filter(codename="view_audit_trail"))


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0001_initial"),
        ("marketplace", "0003_organization_administrators"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
