# A real sentry_sdk application (Debian python3-sentry-sdk 1.9.10: gzip JSON to the store endpoint
# for errors, gzip envelopes for transactions and sessions), run by the SDK tests and capture.ts
# with /usr/bin/python3. The SDK's own HttpTransport sends; its urllib3 pool is wrapped only to
# record each request's url, headers, gzip body and the status cyclops answered.
#
# env: SENTRY_DSN, OUT_FILE (JSON records), ERRORS (distinct errors).
import base64, json, logging, os
import sentry_sdk
from sentry_sdk.transport import HttpTransport

records = []


class RecordingTransport(HttpTransport):
    def __init__(self, options):
        HttpTransport.__init__(self, options)
        request = self._pool.request

        def recording_request(method, url, body=None, headers=None, **kw):
            record = {"url": url, "headers": dict(headers or {}), "body": base64.b64encode(body).decode(),
                      "statusCode": None, "response": None, "error": None}
            records.append(record)
            try:
                response = request(method, url, body=body, headers=headers, **kw)
            except Exception as e:
                record["error"] = repr(e)
                raise
            record["statusCode"] = response.status
            record["response"] = response.data.decode("utf-8", "replace")
            return response

        self._pool.request = recording_request


sentry_sdk.init(os.environ["SENTRY_DSN"], transport=RecordingTransport, release="cyclops-sdk-test@1.0.0",
                environment="test", traces_sample_rate=1.0, send_client_reports=False)

for i in range(int(os.environ.get("ERRORS", "3"))):
    try:
        raise ValueError("cyclops sdk test: python error #%d" % i)
    except ValueError:
        sentry_sdk.capture_exception()
sentry_sdk.capture_message("cyclops sdk test: a python message", level="warning")
logging.getLogger("billing").error("cyclops sdk test: invoice %s could not be charged", 1234)

with sentry_sdk.start_transaction(op="task", name="checkout"):
    with sentry_sdk.start_span(op="db", description="select invoices"):
        pass

hub = sentry_sdk.Hub.current
hub.start_session()
hub.end_session()

sentry_sdk.flush(timeout=15)
with open(os.environ["OUT_FILE"], "w") as f:
    json.dump({"sdk": "sentry-python", "records": records}, f, indent=2)
