import type { TaskPlacement } from '@tributary/shared';
import type { RolloutRecord } from './rollout-types.js';

/** What `tributary plan --json` produces, and what the master schedules from. */
export interface PlanJson {
  app: string;
  processors: { id: number; name: string; parallelism: number; placement: { where: 'edge' | 'cloud' | 'any'; selector?: Record<string, string> }; source: string | null; chain: string[]; lateSink: boolean }[];
  edges: { from: number; to: number; partitioner: string; kind: 'data' | 'late' }[];
}

export type AppLifecycle = 'running' | 'finished' | 'failed' | 'killed';

export interface AppRecord {
  id: string;
  params: Record<string, string>;
  plan: PlanJson;
  bundleSha256: string;
  state: AppLifecycle;
  epoch: number;
  version: number;
  tasks: TaskPlacement[];
  submittedAt: number;
  error?: string;
  /** Epoch of this submission's first run: later epochs are recoveries. */
  firstEpoch?: number;
  /** Latest complete checkpoint time of this submission; null or absent: none yet. */
  checkpoint?: number | null;
  /** Why the current epoch started, when it is a recovery. */
  recovery?: { at: number; reason: string };
  /** Recoveries of this submission so far. */
  recoveries?: number;
}

export interface NodeRecord {
  id: string;
  kind: 'worker' | 'agent';
  labels: Record<string, string>;
  slots: number;
  version: string;
  firstSeen: number;
  lastSeen: number;
  /** Node wall clock minus master wall clock at registration, ms (device clocks drift). */
  clockOffsetMs: number;
}

/**
 * The master's durable state: applications, their bundles, and the registry of nodes. An
 * interface so that a replicated store (etcd, a database) is a second implementation, not an
 * edit everywhere; the first is LevelDB on the master's disk.
 */
export interface MasterStore {
  open(): Promise<void>;
  close(): Promise<void>;
  listApps(): Promise<AppRecord[]>;
  putApp(app: AppRecord): Promise<void>;
  putBundle(sha256: string, bytes: Uint8Array): Promise<void>;
  getBundle(sha256: string): Promise<Uint8Array | undefined>;
  listNodes(): Promise<NodeRecord[]>;
  putNode(node: NodeRecord): Promise<void>;
  /** Fleet rollouts (rollout-manager.ts), so a restarted master resumes them. */
  listRollouts(): Promise<RolloutRecord[]>;
  putRollout(rollout: RolloutRecord): Promise<void>;
}
