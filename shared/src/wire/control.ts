import { z } from 'zod';
import { cborDecoder } from './cbor.js';
import type { AppClockMessage, CheckpointReport, NodeDesiredState, NodeHeartbeat, NodeHello } from './assignment.js';

/**
 * Control messages are input like any frame: every one is decoded and validated against a schema
 * before it is used, never cast. A message that does not validate is counted and dropped by its
 * receiver, which goes on serving everyone else. The schemas mirror the types in assignment.ts;
 * unknown fields are ignored, so an older receiver accepts a newer sender's messages.
 */

/** A number that may be ±Infinity (clocks before the first / after the last input), never NaN. */
const clock = z.number().or(z.literal(Infinity)).or(z.literal(-Infinity));
const count = z.number().int().nonnegative();
const name = z.string().min(1).max(256);
const labels = z.record(z.string().max(256), z.string().max(1024));
const bytes = z.instanceof(Uint8Array);

const percentiles = z.object({ p50: z.number(), p99: z.number(), max: z.number(), samples: count });
const buckets = z.object({ le: z.array(z.number()), counts: z.array(count), sumMs: z.number(), count });

const taskReport = z.object({
  processor: count, index: count, in: count, out: count, late: count, rejected: count, queued: count, maxQueued: count,
  inputClock: clock,
  latencyMs: percentiles.optional(), processingMs: percentiles.optional(),
  latencyBuckets: buckets.optional(), processingBuckets: buckets.optional(),
  topKeys: z.array(z.tuple([z.string(), z.number()])).optional(),
  clockLaggards: z.array(z.tuple([z.string(), z.number(), z.number()])).max(64).optional(),
});

const appReport = z.object({
  epoch: count,
  state: z.enum(['starting', 'running', 'finished', 'failed']),
  tasks: z.array(taskReport),
  wire: z.record(z.string(), z.number()),
  error: z.string().optional(),
  stalls: z.object({ count, maxMs: z.number().nonnegative(), lastAt: z.number() }).optional(),
});

const agentReport = z.object({
  version: z.string().min(1).max(64),
  arch: z.string().max(32),
  slots: z.boolean(),
  state: z.enum(['idle', 'downloading', 'trial', 'committed', 'rolled-back', 'failed', 'interrupted']),
  target: z.string().max(64).optional(),
  reason: z.string().max(1024).optional(),
  seq: count.optional(),
  config: z.object({
    version: z.string().min(1).max(64),
    state: z.enum(['idle', 'trial', 'committed', 'rolled-back', 'failed']),
    target: z.string().max(64).optional(),
    reason: z.string().max(1024).optional(),
  }).optional(),
});

export const helloSchema = z.object({
  kind: z.enum(['worker', 'agent']),
  labels,
  slots: count,
  version: z.string().max(64),
  now: z.number(),
  boot: z.string().max(128).optional(),
  agent: agentReport.optional(),
  idleHeartbeatMs: z.number().int().min(0).max(3_600_000).optional(),
});

export const heartbeatSchema = z.object({
  now: z.number(),
  apps: z.record(name, appReport),
  replayLog: z.object({
    backlogRecords: z.number(), diskBytes: z.number(), quotaBytes: z.number(), droppedRecords: z.number(), blocked: z.boolean(),
  }).optional(),
  eventLoop: z.object({ unattributedStalls: count, unattributedErrors: count }).optional(),
  controlRejected: count.optional(),
  agent: agentReport.optional(),
  bundleRejected: z.record(z.string().max(32), count).optional(),
});

export const checkpointReportSchema = z.object({
  app: name, epoch: count, processor: count, index: count, t: z.number(), state: bytes.nullable(),
});

export const appClockSchema = z.object({
  app: name,
  clock,
  at: z.number(),
  checkpoint: z.object({ epoch: count, t: z.number() }).optional(),
});

const bundleRef = z.object({ sha256: z.string().regex(/^[0-9a-f]{64}$/), url: z.string().min(1), signature: z.string().max(256).optional() });
const placement = z.object({ processor: count, index: count, node: name, position: count.optional() });
const assignment = z.object({
  app: name,
  epoch: count,
  version: count,
  bundle: bundleRef,
  params: z.record(z.string(), z.string()),
  tasks: z.array(placement),
  taskCounts: z.record(z.string(), count).optional(),
  submission: count.optional(),
  checkpoint: z.object({
    intervalMs: z.number().nonnegative(),
    recovery: z.boolean(),
    restoreFrom: z.number().nullable(),
    states: z.record(z.string(), bytes).optional(),
  }).optional(),
});

const desiredAgent = z.object({
  version: z.string().regex(/^[0-9A-Za-z][0-9A-Za-z._-]{0,63}$/),
  url: z.string().min(1).max(2048),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  signature: z.string().min(1).max(256),
});

const desiredConfig = z.object({
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  body: bytes.refine((b) => b.byteLength <= 65_536, 'a remote configuration is at most 64 KiB'),
  signature: z.string().min(1).max(256),
});

const standbyApp = z.object({ app: name, epoch: count, bundle: bundleRef, params: z.record(z.string(), z.string()), submission: count.optional() });

export const desiredStateSchema = z.object({
  node: name, apps: z.array(assignment), standby: z.array(standbyApp).optional(), boot: z.string().optional(), agent: desiredAgent.optional(), config: desiredConfig.optional(),
});

/** Credit grants on a credit topic: [sender task address, frames] pairs. */
export const creditGrantsSchema = z.array(z.tuple([count, count]));

export type ControlKind = 'hello' | 'heartbeat' | 'checkpoint' | 'clock' | 'desired' | 'credit';

const SCHEMAS = {
  hello: helloSchema, heartbeat: heartbeatSchema, checkpoint: checkpointReportSchema,
  clock: appClockSchema, desired: desiredStateSchema, credit: creditGrantsSchema,
} as const;

interface ControlTypes {
  hello: NodeHello; heartbeat: NodeHeartbeat; checkpoint: CheckpointReport;
  clock: AppClockMessage; desired: NodeDesiredState; credit: [number, number][];
}

export type Decoded<T> = { ok: true; value: T } | { ok: false; reason: string };

/**
 * Decodes a control message of `kind` (CBOR) and validates it. Never throws: a payload that is not
 * CBOR or does not match the schema comes back as `{ ok: false, reason }` for the caller to count,
 * log (rate-limited) and drop.
 */
export function decodeControl<K extends ControlKind>(kind: K, payload: Uint8Array): Decoded<ControlTypes[K]> {
  let raw: unknown;
  try {
    raw = cborDecoder.decode(payload);
  } catch (err) {
    return { ok: false, reason: `${kind}: not CBOR (${(err as Error).message})` };
  }
  const parsed = SCHEMAS[kind].safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return { ok: false, reason: `${kind}: ${issue ? `${issue.path.join('.') || '(root)'}: ${issue.message}` : 'invalid'}` };
  }
  return { ok: true, value: parsed.data as ControlTypes[K] };
}
