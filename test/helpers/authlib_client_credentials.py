# client_credentials with client_secret_basic through authlib (an OAuth client nobody at Signet
# wrote). Prints the token response as JSON, or the OAuth error and exits 1.
import json
import sys

from authlib.integrations.requests_client import OAuth2Session

token_endpoint, client_id, client_secret, audience = sys.argv[1:5]
session = OAuth2Session(client_id, client_secret, token_endpoint_auth_method="client_secret_basic")
try:
    token = session.fetch_token(token_endpoint, grant_type="client_credentials", audience=audience, scope="orders:read")
except Exception as error:  # authlib raises OAuthError with .error for RFC 6749 error bodies
    print(json.dumps({"error": getattr(error, "error", type(error).__name__), "description": getattr(error, "description", str(error))}))
    sys.exit(1)
print(json.dumps(dict(token)))
