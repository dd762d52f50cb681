import { z } from 'zod';
import { labelsSchema } from './load-config.js';

/** Boolean settings from flags and env: on/off, true/false, 1/0. */
const ONOFF: Record<string, boolean> = { on: true, true: true, '1': true, off: false, false: false, '0': false };
const onoff = z.preprocess((v) => (typeof v === 'string' ? ONOFF[v.toLowerCase()] ?? v : v), z.boolean());
const port = z.coerce.number().int().min(0).max(65535);
const logLevel = z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info');
const nodeId = z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'ids are 1-64 letters, digits, _ . -');
const brokerUrl = z.string().regex(/^mqtts?:\/\/[^/]+$/, 'expected mqtt://host:port');

/** `tributary master`: the control plane. */
export const masterConfigSchema = z.object({
  /** Where the registry and applications are kept (LevelDB); a restart resumes from here. */
  data: z.string().min(1).default('.data/master'),
  /** Port of the embedded MQTT broker (loopback only). Ignored with `broker`. */
  mqttPort: port.default(1883),
  /** An external MQTT broker instead of the embedded one, e.g. mqtt://broker.example:1883. */
  broker: brokerUrl.optional(),
  /** REST API and bundle downloads. */
  httpPort: port.default(8080),
  /** Loopback by default; set 0.0.0.0 to serve other machines. */
  httpHost: z.string().default('127.0.0.1'),
  /** The URL nodes use to download bundles; defaults to http://<httpHost>:<httpPort>. */
  publicUrl: z.string().url().optional(),
  /**
   * A node is offline after this long without a heartbeat. Heartbeats come every second and the
   * broker's last-will fires within 1.5 keep-alives, so 3 s notices a loss within a few seconds
   * without flapping on a busy 2-core box.
   */
  nodeTimeoutMs: z.coerce.number().int().min(500).default(3000),
  /**
   * Exactly-once: tasks snapshot their state whenever their clock passes a multiple of this
   * (event time, ms) and the master keeps the snapshots; after a failure every task restarts from
   * the latest checkpoint all tasks completed and sources replay from its time. 0 turns checkpoints
   * off (at-least-once: a recovery replays the whole replay log).
   */
  checkpointIntervalMs: z.coerce.number().int().min(0).default(1000),
  /**
   * Limits of the embedded broker (ignored with `broker`); 0 turns one off. A packet bigger than
   * this (KiB) closes its connection: 32 MiB is twice the largest frame the runtime encodes.
   */
  brokerMaxPacketKb: z.coerce.number().int().min(0).default(32 * 1024),
  /** PUBLISHes per second per client id (burst: twice as many); over it they are dropped. ~20× a node at full speed. */
  brokerMaxPublishRate: z.coerce.number().int().min(0).default(20_000),
  /** Concurrent clients; the next CONNECT gets CONNACK 3 (server unavailable). */
  brokerMaxConnections: z.coerce.number().int().min(0).default(20_000),
  /**
   * A bootstrap admin token (env TRIBUTARY_ADMIN_TOKEN): stored hashed and accepted like any
   * other; a new value replaces the previous one. Without it, the first start creates a token and
   * prints it once. Launchers and tests pass one so they know it.
   */
  adminToken: z.string().min(16, 'admin tokens are at least 16 characters').optional(),
  /** `/metrics` requires an admin token too; off: open to scrapers (it holds figures, no secrets). */
  metricsAuth: z.preprocess((v) => (typeof v === 'string' ? ONOFF[v.toLowerCase()] ?? v : v), z.boolean()).default(false),
  /** Agent binaries served to devices (GET /agent/<version>/linux-<arch>); default dist/ of this checkout (npm run build:agent). */
  agentDir: z.string().min(1).optional(),
  /** Embedded broker: MQTT over TLS (client certificates verified against the fabric CA); 0 picks a free port. */
  mqttsPort: port.default(8883),
  /** Interface of the TLS listener (and of the plain one with `allowPlainMqtt`); 0.0.0.0 serves other machines. */
  mqttHost: z.string().min(1).default('127.0.0.1'),
  /** Let the plain TCP listener bind `mqttHost` instead of loopback only. */
  allowPlainMqtt: onoff.default(false),
  /**
   * Transition and development only: the embedded broker admits clients without credentials (no
   * authentication, no identity-bound ACL), as before issue 13. Off by default.
   */
  allowAnonymousMqtt: onoff.default(false),
  /** Extra names (DNS names or IP addresses) in the broker's server certificate; repeatable. */
  tlsNames: z.preprocess((v) => (typeof v === 'string' ? v.split(',').filter(Boolean) : v), z.array(z.string().min(1))).default([]),
  /** Lifetime of the client certificates enrolment issues, days (nodes renew at 2/3 of it). */
  certLifetimeDays: z.coerce.number().positive().max(3650).default(30),
  /**
   * The master plans every submitted bundle itself, in a worker thread: its heap cap (MB) and time
   * limit (ms). A bundle that needs more to merely build its plan is refused (TRIB_ERR_PLAN_MISMATCH).
   */
  planHeapMb: z.coerce.number().int().min(16).default(128),
  planTimeoutMs: z.coerce.number().int().min(100).default(10_000),
  logLevel,
});
export type MasterConfig = z.infer<typeof masterConfigSchema>;

/** A node's `master`: the broker itself (mqtt/mqtts) or the master's REST API (http/https; enrolment). */
const masterUrl = z.string().regex(/^(mqtts?:\/\/[^/]+|https?:\/\/[^\s/]+(\/\S*)?)$/, "expected mqtt(s)://host:port (the broker) or http(s)://host:port (the master's REST API)");

const nodeCommon = {
  /**
   * `mqtt(s)://`: the master's broker, connected with the identity under `data` if there is one
   * (anonymously otherwise). `http(s)://`: the master's REST API: the node enrols there first if it
   * has no identity yet (`enrolToken`), then connects to the broker enrolment named, by TLS with
   * its client certificate when offered, else with id + per-device secret.
   */
  master: masterUrl.default('mqtt://127.0.0.1:1883'),
  /**
   * One-time enrolment token (`tributary devices add <id>`; flag --token, env
   * TRIBUTARY_ENROL_TOKEN). Used only while the node has no identity; then ignored.
   */
  enrolToken: z.string().min(1).optional(),
  /**
   * How a node that enrolled through the master's REST API reaches the broker. `auto`: over the
   * broker's plain loopback listener, with id + per-device secret, when the master is on this
   * very host (the master URL and that listener are both loopback: nothing crosses a network, and
   * the master's own connection is plain loopback too), which spares every frame an encryption on
   * the node and a decryption and re-encryption in the broker; anywhere else over TLS with the
   * client certificate. `always`: TLS even on loopback.
   */
  brokerTls: z.enum(['auto', 'always']).default('auto'),
  labels: labelsSchema.default({}),
  /** Heartbeat period. One a second keeps failure detection in the low seconds at tiny cost. */
  heartbeatMs: z.coerce.number().int().min(100).default(1000),
  /**
   * Heartbeat period while the node hosts no application: a heartbeat then carries nothing but
   * that it is alive, which the broker's keep-alive and last will already say (a fleet of 10,000
   * idle agents would otherwise send the master 10,000 messages a second). Declared in the hello:
   * the master allows such a node that much longer between heartbeats. 0 = always `heartbeatMs`.
   */
  idleHeartbeatMs: z.coerce.number().int().min(0).default(10_000),
  logLevel,
  /**
   * Log first, then send: sources hosted here append their records to a LevelDB replay log under
   * `data` before emitting them, so any failure can be replayed (exactly-once) and a device keeps
   * recording while its uplink is down. Off saves the disk writes and gives up both.
   */
  replayLog: z.preprocess((v) => (typeof v === 'string' ? ONOFF[v.toLowerCase()] ?? v : v), z.boolean()).default(true),
  /** Disk quota of the replay logs, MB; 0 = none. */
  replayQuotaMb: z.coerce.number().min(0).default(0),
  /**
   * When the quota is reached: `block` stops reading the source until checkpoints free space
   * (nothing is lost; an MQTT source's broker then holds the backlog), `drop-oldest` deletes the
   * oldest records and counts them (reported as droppedRecords; they can no longer be replayed).
   */
  replayQuotaPolicy: z.enum(['block', 'drop-oldest']).default('block'),
  /**
   * Inline hosting: an application call that holds the event loop this long (ms) is logged,
   * counted and reported with the application's status (`stalls`); 0 turns the watchdog off.
   * A second is far beyond any healthy batch and well below the master's node timeout.
   */
  watchdogMs: z.coerce.number().int().min(0).default(1000),
  /**
   * PEM file of the master's Ed25519 public key: bundles must carry its signature or they are
   * refused unevaluated. Unset: `<data>/identity/master-signing.pub` (written by enrolment), or,
   * failing that, the key the master serves, trusted on first use (logged as a warning).
   */
  masterKey: z.string().min(1).optional(),
  /**
   * Thread isolation: each application thread's heap cap, MB (worker resourceLimits). An
   * application that outgrows it fails alone on this node; 0 = V8's default (a share of RAM).
   */
  appHeapMb: z.coerce.number().int().min(0).default(512),
};

/**
 * How applications are hosted: `thread` runs each in its own worker thread (a V8 isolate, ~10 MB
 * each; a loop or leak in its code cannot stall or grow the node), `inline` on the node's own main
 * thread (no isolate, no copy per message; an application that throws still fails alone, a
 * blocking one is reported by the watchdog). Default inline on both: it measured 1.5× the
 * edge → cloud throughput with workers inline and ~40 MB less worker RSS (bench/README.md,
 * session 8). Thread suits a worker shared by users who must not stall or grow each other.
 */
const isolation = z.enum(['inline', 'thread']);

/** `tributary worker`: a cloud node hosting tasks. */
export const workerConfigSchema = z.object({
  id: nodeId.optional(),
  /** How many tasks this worker accepts. */
  slots: z.coerce.number().int().min(1).default(8),
  data: z.string().min(1).default('.data/worker'),
  isolation: isolation.default('inline'),
  /**
   * Hot standby: hold every running application this worker hosts no task of warm (its bundle
   * verified and evaluated, the graph built, nothing running; in a thread with thread isolation),
   * so a worker's fail-over to this one starts at once. Costs its graph inline, ~20 MB of RSS per
   * application threaded; off saves it and makes takeovers cold (the bundle loaded then).
   */
  standby: onoff.default(true),
  ...nodeCommon,
});
export type WorkerConfig = z.infer<typeof workerConfigSchema>;

/** `tributary agent`: an edge agent on a device. */
export const agentConfigSchema = z.object({
  id: nodeId,
  slots: z.coerce.number().int().min(1).default(4),
  data: z.string().min(1).default('.data/agent'),
  isolation: isolation.default('inline'),
  /** Self-update: a new agent version must prove healthy within this many seconds, or the agent goes back. */
  updateDeadlineS: z.coerce.number().int().min(5).default(120),
  /** Self-update: free disk (MB) a download must leave on the data directory's file system. */
  updateReserveMb: z.coerce.number().min(0).default(64),
  /** Self-update: healthy this long without a break (ms) before a new version is committed. */
  updateHealthyMs: z.coerce.number().int().min(0).default(3000),
  ...nodeCommon,
});
export type AgentConfig = z.infer<typeof agentConfigSchema>;

/** Client commands of the master's REST API (`submit`, `apps`, `kill`, `tokens`, …). */
export const clientConfigSchema = z.object({
  /** Admin token (env TRIBUTARY_TOKEN), sent as `Authorization: Bearer`. */
  token: z.string().min(1).optional(),
});
export type ClientConfig = z.infer<typeof clientConfigSchema>;
