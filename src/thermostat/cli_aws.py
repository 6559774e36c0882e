"""AWS for the subcommands that reach it (``plan``, ``runs``, ``export``): one session, one stack look-up, and
botocore's errors turned into :class:`thermostat.cli.AwsAccessError` (exit 4) with a hint saying what to do.

botocore is imported only when a command asks for a session: ``thermostat --help`` stays fast.
"""

from __future__ import annotations

from typing import Any

from thermostat.cli import AwsAccessError

CREDENTIALS_HINT = ("configure credentials: 'aws configure' (or 'aws sso login --profile NAME'), then pass "
                    "--profile NAME or set AWS_PROFILE; or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
REGION_HINT = "pass --region (e.g. --region us-east-1), or set AWS_REGION, or set a region in your profile"
STACK_HINT = "pass the name of a deployed Thermostat stack (sam deploy's stack_name) and its --region"

DENIED = {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "AuthorizationError",
          "UnauthorizedAccess", "Forbidden", "403"}
REFUSED = {"ExpiredToken", "ExpiredTokenException", "InvalidClientTokenId", "UnrecognizedClientException",
           "SignatureDoesNotMatch", "InvalidAccessKeyId", "InvalidToken", "RequestExpired"}
NO_CREDENTIALS = {"NoCredentialsError", "PartialCredentialsError", "CredentialRetrievalError", "SSOTokenLoadError",
                  "UnauthorizedSSOTokenError", "TokenRetrievalError", "SSOError", "NoAuthTokenError",
                  "UnknownCredentialError", "LoginTokenLoadError"}
NO_REGION = {"NoRegionError", "InvalidRegionError", "UnknownRegionError"}
NO_NETWORK = {"EndpointConnectionError", "ConnectTimeoutError", "ConnectionClosedError", "ProxyConnectionError",
              "ReadTimeoutError"}


def _is_aws(exc: BaseException) -> bool:
    return any(klass.__module__.split(".")[0] in ("botocore", "boto3") for klass in type(exc).__mro__)


def aws_error(exc: BaseException, doing: str = "AWS request") -> AwsAccessError | None:
    """botocore/boto3's exception -> a plain error with a hint (None: not an AWS SDK exception)."""
    if not _is_aws(exc):
        return None
    name = type(exc).__name__
    if name in NO_CREDENTIALS:
        return AwsAccessError(f"{doing}: no usable AWS credentials ({exc})", CREDENTIALS_HINT)
    if name in NO_REGION:
        return AwsAccessError(f"{doing}: no AWS region ({exc})", REGION_HINT)
    if name == "ProfileNotFound":
        return AwsAccessError(f"{doing}: {exc}", "list your profiles with 'aws configure list-profiles'")
    if name in NO_NETWORK:
        return AwsAccessError(f"{doing}: cannot reach AWS ({exc})", "check the network, a proxy, and --region")
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        error = response.get("Error") or {}
        code, message = str(error.get("Code", "?")), str(error.get("Message", "")).strip()
        if code in DENIED or "AccessDenied" in code:
            return AwsAccessError(f"{doing}: access denied ({code}: {message})",
                                  "use credentials allowed to make this call (the command's --help lists what it "
                                  "reads)")
        if code in REFUSED:
            return AwsAccessError(f"{doing}: AWS refused the credentials ({code}: {message})", CREDENTIALS_HINT)
        return AwsAccessError(f"{doing}: AWS answered {code}: {message}")
    return AwsAccessError(f"{doing}: {exc}")


def store_error(exc: Exception, doing: str) -> AwsAccessError:
    """A ``StateStoreError`` (its ``code`` is S3's, or botocore's exception name) -> exit 4 with a hint."""
    code = str(getattr(exc, "code", "") or "")
    detail = str(getattr(exc, "detail", exc))
    hint = None
    if code in NO_CREDENTIALS or code in REFUSED:
        hint = CREDENTIALS_HINT
    elif code in NO_REGION:
        hint = REGION_HINT
    elif code in DENIED or "AccessDenied" in code:
        hint = "use credentials allowed s3:ListBucket and s3:GetObject on the stack's state bucket"
    return AwsAccessError(f"{doing}: {detail}", hint)


def session(profile: str | None, region: str | None) -> Any:
    """A boto3 session; an unknown profile is an AWS access error (exit 4)."""
    import boto3

    try:
        return boto3.session.Session(profile_name=profile, region_name=region)
    except Exception as exc:  # botocore ProfileNotFound (the others surface at the first call)
        raise aws_error(exc, f"--profile {profile}") or exc from None


def stack_outputs(aws: Any, stack: str) -> dict[str, str]:
    """The outputs of a deployed stack; a stack that does not exist says so (exit 4)."""
    try:
        described = aws.client("cloudformation").describe_stacks(StackName=stack)["Stacks"][0]
    except Exception as exc:
        code = str(((getattr(exc, "response", None) or {}).get("Error") or {}).get("Code", ""))
        if code == "ValidationError" and "does not exist" in str(exc):
            region = getattr(aws, "region_name", None) or "the default region"
            raise AwsAccessError(f"stack {stack!r} not found in {region}", STACK_HINT) from None
        raise aws_error(exc, f"reading stack {stack!r}") or exc from None
    return {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}


def stack_output(aws: Any, stack: str, name: str) -> str:
    """One output of a Thermostat stack (a stack without it is not one: exit 4)."""
    value = stack_outputs(aws, stack).get(name)
    if not value:
        raise AwsAccessError(f"stack {stack!r} has no output {name}: it is not a Thermostat (v2) stack",
                             STACK_HINT)
    return value
