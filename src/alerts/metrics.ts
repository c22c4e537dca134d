/** The alerts' counters in /metrics, read from AlertDelivery's plain fields when scraped. */
import client from "prom-client";
import type { Alerts } from "./alerts.ts";

export function registerAlertMetrics(registry: client.Registry, alerts: Alerts): void {
  new client.Counter({
    name: "cyclops_alerts_total",
    help: "Alert messages per sink (its name or host) by outcome: sent (the sink answered 2xx), retried (an attempt failed and another followed), lost (every attempt failed, or too many were pending).",
    labelNames: ["sink", "outcome"],
    registers: [registry],
    collect() {
      this.reset();
      for (const [sink, c] of Object.entries(alerts.delivery.counts)) {
        for (const outcome of ["sent", "retried", "lost"] as const) this.inc({ sink, outcome }, c[outcome]);
      }
    },
  });
  new client.Gauge({
    name: "cyclops_drop_episodes_active",
    help: "Drop episodes in progress on this instance (a project dropping at ALERT_MIN_DROPS_PER_MINUTE or more for one reason).",
    registers: [registry],
    collect() {
      this.set(alerts.active().length);
    },
  });
}
