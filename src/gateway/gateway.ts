/**
 * The composition root: builds a running gateway from a Config (key registry, queue, flood
 * counters, forwarder, admission, the HTTP listener), and takes it down again in the right order.
 * Nothing below this folder builds another room's parts. `cyclops serve` and the in-process tests
 * both start cyclops through here, so they exercise the same code.
 */
import type { Server } from "bun";
import type { Config } from "../config/schema.ts";
import { Forwarder } from "../forward/forwarder.ts";
import { createKeySources } from "../keys/index.ts";
import { KeyRegistry } from "../keys/registry.ts";
import type { RedisLike } from "../alerts/farm.ts";
import { registerAlertMetrics } from "../alerts/metrics.ts";
import { redact } from "../keys/redact.ts";
import { LogLimiter, silentLogger, type Logger } from "../log.ts";
import { Stats } from "../stats/counters.ts";
import { LatencyWindow } from "../stats/latency.ts";
import { Metrics } from "../stats/metrics.ts";
import { registerSpikeMetrics } from "../spike/metrics.ts";
import { spikeOff, SpikeProtection } from "../spike/service.ts";
import { stateStoreFor } from "../spike/state-store.ts";
import { createQueue, oneStepFloodCut } from "../storage/index.ts";
import { createHeldStore } from "../storage/held/index.ts";
import { RedisConnection, redisSettings } from "../redis/connection.ts";
import { createCounterStore } from "../throttle/index.ts";
import { VERSION } from "../version.ts";
import { Admission } from "../admission/admission.ts";
import type { Deps } from "../server/deps.ts";
import { createHandler, listen, type Handler } from "../server/listener.ts";
import { GatewayWatch } from "./watch.ts";

export interface Gateway {
  server: Server<undefined>;
  port: number;
  url: string;
  deps: Deps;
  forwarder: Forwarder;
  /** Graceful stop: stop accepting, finish in-flight requests, drain/keep the queue, close storage. */
  stop(): Promise<void>;
}

export interface StartOptions {
  log?: Logger;
  /** Where the config came from, for the start-up line. */
  source?: string;
}

/** The gateway's parts, wired but not running: no listener, forwarder stopped, keys not loaded. */
export interface Parts {
  deps: Deps;
  forwarder: Forwarder;
  /** Alerts, the status page's history and the log lines that watch the gateway. */
  watch: GatewayWatch;
  /** The whole HTTP surface as a function, for driving the gateway in process without a socket. */
  handle: Handler;
  /** Closes what `build` opened (keys, queue, counters); for parts that were never started. */
  close(): Promise<void>;
}

export async function startGateway(config: Config, opts: StartOptions = {}): Promise<Gateway> {
  const log = opts.log ?? silentLogger();
  const parts = await build(config, log);
  const { deps, forwarder, watch } = parts;
  const { keys, queue, counters, stats } = deps;
  await keys.start(config.UPDATE_PERIOD);
  const server = listen(deps);
  // After the listener opened: a start that fails (address in use) says that one thing only.
  watch.warnIfNoKeys();
  forwarder.start();
  const port = server.port!;
  watch.start(port);

  log.info(
    {
      version: VERSION,
      config: opts.source ?? "embedded defaults",
      listen: `${config.BIND}:${port}`,
      storage: queue.kind,
      counters: counters.kind,
      pacing: config.PACING,
      keys: keys.status().size,
      key_sources: keys.sourceNames,
      upstream: redact(config.SENTRY_BASE_URL, []),
      alerts: config.ALERTS.length,
    },
    "cyclops started",
  );

  let stopping: Promise<void> | null = null;
  return {
    server,
    port,
    url: `http://${config.BIND === "0.0.0.0" ? "127.0.0.1" : config.BIND}:${port}`,
    deps,
    forwarder,
    stop() {
      stopping ??= (async () => {
        // Finish in-flight requests, but a client that stalls mid-body must not hold the stop.
        const graceful = server.stop(false);
        const timedOut = await Promise.race([graceful.then(() => false), Bun.sleep(config.SHUTDOWN_TIMEOUT * 1000).then(() => true)]);
        if (timedOut) await server.stop(true);
        const left = await forwarder.stop(config.SHUTDOWN_TIMEOUT);
        await watch.stop(1000);
        if (left > 0) {
          log.warn(
            { left, storage: queue.kind },
            queue.kind === "memory" ? "stopped with undelivered reports in memory: they are lost" : "stopped; undelivered reports stay in storage for the next start",
          );
        }
        await parts.close();
        const lost = queue.kind === "memory" ? left : 0;
        const dropped = Object.values(stats.dropped).reduce((a, b) => a + b, 0);
        log.info({ delivered: stats.forwarded.delivered, left: left - lost, lost, dropped }, "cyclops stopped");
      })();
      return stopping;
    },
  };
}

/** Builds the parts from the config: storage, counters, keys, forwarder, admission, the server's deps. */
export async function build(config: Config, log: Logger = silentLogger()): Promise<Parts> {
  const limiter = new LogLimiter();
  const stats = new Stats();
  let metrics: Metrics | undefined;
  const latency = new LatencyWindow(config.MAX_REQUESTS_TO_AVERAGE, (ms) => metrics?.observeUpstream(ms));
  const queue = await createQueue(config);
  const counters = await createCounterStore(config);
  // A shared store that is not up yet is no reason to refuse start: /healthcheck says so, and
  // requests get 503 with Retry-After until it is (or the memory fallback counts floods).
  for (const store of [queue, counters]) {
    await store.waitReady?.(5000).catch((e: Error) => log.error({ storage: store.kind }, `storage not ready at start: ${e.message}`));
  }
  const keys = new KeyRegistry(createKeySources(config), (source, message) => {
    if (limiter.allow(`keys:${source}`) !== null) log.error({ source }, `project key refresh failed: ${message}`);
  });
  const forwarder = new Forwarder({ config, queue, stats, latency, log, version: VERSION, keyFor: (projectId) => keys.keyForProject(projectId)?.publicKey });

  metrics = new Metrics({
    stats,
    queue,
    keys,
    // Read at collection time, once admission (below) exists.
    ingestMemory: () => ({ bodiesInFlightBytes: admission.bodies.bytes, heldReports: admission.heldReports.count, heldBytes: admission.heldReports.bytes }),
  });
  // Redis (counters or queue) means a farm: its instances agree on drop episodes and list
  // themselves through it.
  const redisOf = (store: object) => (store as { connection?: { client?: RedisLike } }).connection?.client ?? null;
  const redis = counters.kind === "redis" ? redisOf(counters) : queue.kind === "redis" ? redisOf(queue) : null;
  const watch = new GatewayWatch({ config, log, stats, queue, keys, latency, upstream: forwarder, redis });
  registerAlertMetrics(metrics.registry, watch.alerts);
  // Spike protection: learned limits restored from the storage, ticking, saved at close; a farm
  // on one Redis (queue or counters there) shares one limit per project through it.
  const farmRedis = !spikeOff(config) && (config.STORAGE === "redis" || config.CACHE_IMPLEMENTATION_CLASS === "redis") ? new RedisConnection(redisSettings(config)) : null;
  const farm = farmRedis ? { redis: farmRedis.client, prefix: config.REDIS_KEY_PREFIX } : undefined;
  const spike = spikeOff(config) ? undefined : new SpikeProtection(config, { log, store: stateStoreFor(config, queue, farmRedis?.client), farm });
  if (spike) {
    await spike.start();
    registerSpikeMetrics(metrics.registry, spike.limiter);
  }
  // The status page lists spike protection's episodes; its drops reach the alerts through admission.
  spike?.onEpisode(watch.spikeEpisode);
  const admission = new Admission({
    spike: spike?.limiter,
    config,
    keys,
    queue,
    counters,
    // Reports answered 200 while keys load are kept beside the queue, as durable as it.
    held: await createHeldStore(queue, config.REDIS_KEY_PREFIX),
    pushCounted: oneStepFloodCut(queue, counters),
    stats,
    rateLimits: (projectId, category) => forwarder.rateLimitFor(projectId, category),
    onQueued: () => forwarder.notify(),
    onStorageError: (e) => {
      const suppressed = limiter.allow(`storage:${e.name}`);
      if (suppressed !== null) log.error({ suppressed }, `storage unavailable: ${e.message}`);
    },
    onInternalError: (e) => {
      const suppressed = limiter.allow("internal");
      if (suppressed !== null) log.error({ err: e, suppressed }, "internal error while admitting a held report");
    },
    onDropped: watch.onDrop,
  });
  const deps: Deps = {
    config,
    metrics,
    keys,
    queue,
    counters,
    stats,
    admission,
    spikeProtection: spike,
    latency: () => latency.summary(),
    mountStatus: (app) => watch.mount(app),
    onInternalError: (e) => {
      const suppressed = limiter.allow("internal");
      if (suppressed !== null) log.error({ err: e, suppressed }, "internal error while handling a request");
    },
    onBodyUnread: (reason) => log.debug({ reason }, "request body not received"),
  };

  return {
    deps,
    forwarder,
    watch,
    handle: createHandler(deps),
    async close() {
      admission.stop(); // held reports not yet released stay in the storage for the next start
      await spike?.stop(); // saves the learned limits, before the spool that may keep them closes
      await farmRedis?.close();
      await keys.close();
      await Promise.allSettled([queue.close(), counters.close()]);
    },
  };
}
