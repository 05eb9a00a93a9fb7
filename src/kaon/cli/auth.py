"""`kaon auth s3-credentials`: access keys for the S3 gateway (boto3, aws, s3fs, ...)."""

from __future__ import annotations

import typer

from kaon.cli.output import emit_json, table
from kaon.cli.workspace import client

auth_app = typer.Typer(
    help=(
        "Who you are and your credentials: `kaon auth whoami`, API tokens (`kaon auth token "
        "create|list|revoke`; alone it prints the platform token), S3 keys "
        "(`kaon auth s3-credentials`). The CLI acts as KAON_TOKEN, else the token of "
        "`kaon init --token`, else the local platform's ($KAON_HOME/token)."
    ),
    no_args_is_help=True,
)


@auth_app.command("s3-credentials")
def s3_credentials(
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    list_: bool = typer.Option(False, "--list", help="List the keys (never their secrets)."),
    revoke: str = typer.Option(None, "--revoke", help="Revoke this access key id."),
) -> None:
    """Create an access key pair for the S3 gateway (the secret is shown only now) and print
    it with the endpoint, as AWS_* variables ready to export."""
    with client() as c:
        if revoke:
            c.revoke_s3_credentials(revoke)
            typer.echo(f"access key {revoke} revoked")
            return
        if list_:
            keys = c.list_s3_credentials()
            if as_json:
                emit_json(keys)
            else:
                table(
                    ["access key", "owner", "job", "scope"],
                    [[k.access_key, k.owner, k.job or "", k.scope] for k in keys],
                )
            return
        cred = c.create_s3_credentials()
    if as_json:
        emit_json(cred)
        return
    endpoint = cred.endpoint or "(the S3 gateway is not listening)"
    typer.echo(f"Access key id:     {cred.access_key}")
    typer.echo(f"Secret access key: {cred.secret}")
    typer.echo(f"Endpoint:          {endpoint}")
    typer.echo(f"Region:            {cred.region}")
    typer.echo("")
    typer.echo(f"export AWS_ENDPOINT_URL={cred.endpoint or ''}")
    typer.echo(f"export AWS_ACCESS_KEY_ID={cred.access_key}")
    typer.echo(f"export AWS_SECRET_ACCESS_KEY={cred.secret}")
    typer.echo(f"export AWS_DEFAULT_REGION={cred.region}")
