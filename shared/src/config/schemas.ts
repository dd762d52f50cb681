import { z } from 'zod';
import { labelsSchema } from './load-config.js';

/** Boolean settings from flags and env: on/off, true/false, 1/0. */
const ONOFF: Record<string, boolean> = { on: true, true: true, '1': true, off: false, false: false, '0': false };
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
  /** Agent binaries served to devices (GET /agent/<version>/linux-<arch>); default dist/ of this checkout (npm run build:agent). */
  agentDir: z.string().min(1).optional(),
  logLevel,
});
export type MasterConfig = z.infer<typeof masterConfigSchema>;

const nodeCommon = {
  /** The master's broker. */
  master: brokerUrl.default('mqtt://127.0.0.1:1883'),
  labels: labelsSchema.default({}),
  /** Heartbeat period. One a second keeps failure detection in the low seconds at tiny cost. */
  heartbeatMs: z.coerce.number().int().min(100).default(1000),
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
};

/**
 * How applications are hosted: `thread` runs each in its own worker thread (a V8 isolate, ~10 MB
 * each; a loop or leak in its code cannot stall or grow the node), `inline` on the node's own main
 * thread (no isolate, no copy per message; an application that throws still fails alone, a
 * blocking one is reported by the watchdog). Agents run few applications on small devices:
 * inline; workers host many, from many users: thread.
 */
const isolation = z.enum(['inline', 'thread']);

/** `tributary worker`: a cloud node hosting tasks. */
export const workerConfigSchema = z.object({
  id: nodeId.optional(),
  /** How many tasks this worker accepts. */
  slots: z.coerce.number().int().min(1).default(8),
  data: z.string().min(1).default('.data/worker'),
  isolation: isolation.default('thread'),
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
