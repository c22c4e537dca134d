// Entry of the @sentry/browser bundle the browser test builds (the npm package ships no CDN
// bundle here): the page gets the SDK as `window.Sentry`, as the CDN bundle would give it.
import * as Sentry from "@sentry/browser";

(globalThis as unknown as { Sentry: typeof Sentry }).Sentry = Sentry;
