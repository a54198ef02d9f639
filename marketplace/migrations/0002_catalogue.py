"""The catalogue of connectors: Dynamics CRM is Premium (the one this application has a form for); the others
are Standard and are configured in the Gathr platform. Edit it afterwards in Django admin."""

from django.db import migrations

CATALOGUE = [
    {
        "slug": "dynamics-crm",
        "name": "Dynamics CRM",
        "description": "Microsoft's customer relationship management: Dynamics 365 / Dataverse (CRMOnline) "
        "and on-premises Dynamics CRM 2011+.",
        "tier": "premium",
        "connection_form": "connections:create",
        "position": 10,
    },
    {
        "slug": "amazon-s3",
        "name": "Amazon S3",
        "description": "Read and write files in Amazon S3 buckets.",
        "position": 20,
    },
    {
        "slug": "azure-blob-storage",
        "name": "Azure Blob Storage",
        "description": "Read and write files in Azure Blob Storage containers.",
        "position": 30,
    },
    {
        "slug": "postgresql",
        "name": "PostgreSQL",
        "description": "Read tables and queries from PostgreSQL databases, and write to them.",
        "position": 40,
    },
    {
        "slug": "mysql",
        "name": "MySQL",
        "description": "Read tables and queries from MySQL and MariaDB databases, and write to them.",
        "position": 50,
    },
    {
        "slug": "apache-kafka",
        "name": "Apache Kafka",
        "description": "Consume and produce messages on Apache Kafka topics.",
        "position": 60,
    },
    {
        "slug": "sftp",
        "name": "SFTP",
        "description": "Read and write files on SFTP servers.",
        "position": 70,
    },
]


def add_catalogue(apps, schema_editor):
    Connector = apps.get_model("marketplace", "Connector")
    for entry in CATALOGUE:
        values = {"tier": "standard", "connection_form": "", **entry}
        Connector.objects.get_or_create(slug=values.pop("slug"), defaults=values)


class Migration(migrations.Migration):
    dependencies = [("marketplace", "0001_initial")]

    operations = [migrations.RunPython(add_catalogue, migrations.RunPython.noop)]
