import type { DeclaredAppTopics, TaskPlacement } from '@tributary/shared';
import type { PlanJson } from './plan-json.js';
import type { RolloutRecord } from './rollout-types.js';

export type { PlanJson } from './plan-json.js';

export type AppLifecycle = 'running' | 'finished' | 'failed' | 'killed';

export interface AppRecord {
  id: string;
  params: Record<string, string>;
  /** The plan the master derived from the bundle itself (bundle-planner.ts), never the client's. */
  plan: PlanJson;
  bundleSha256: string;
  /** The master's Ed25519 signature over the bundle's digest (base64): nodes verify it before evaluating. */
  bundleSignature?: string;
  /** The application (non-trib) MQTT topics its connectors declare, for the broker's ACL. */
  appTopics?: DeclaredAppTopics;
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
  /**
   * An application rollout in progress (`tributary fleet rollout app`, issue 16): the new bundle,
   * of the same shape, and the nodes that run it already; every other node runs `bundleSha256`.
   */
  candidate?: CandidateBundle;
}

/** A new bundle of a running application, rolled out node by node (AppManager.runCandidate). */
export interface CandidateBundle {
  bundleSha256: string;
  bundleSignature?: string;
  plan: PlanJson;
  appTopics?: DeclaredAppTopics;
  /** The rollout that brought it. */
  rollout: string;
  nodes: string[];
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

/** Roles a device can be enrolled with (the master's own identity is not a device). */
export type DeviceRole = 'agent' | 'worker' | 'client';

/**
 * A device of the fleet as the master's device registry keeps it (device-registry.ts): who it
 * is, its one-time enrolment token (only its SHA-256), and after enrolment its secret's hash and
 * the serials of the certificates it may connect with.
 */
export interface DeviceRecord {
  id: string;
  role: DeviceRole;
  labels: Record<string, string>;
  /** Role `client` only: the application topics (MQTT filters) it may read and write. */
  grants?: { read?: string[]; write?: string[] };
  createdAt: number;
  /** SHA-256 (hex) of the enrolment token; kept after use, to tell a reused token from an unknown one. */
  tokenHash: string;
  tokenExpiresAt: number;
  enrolledAt?: number;
  /** SHA-256 (hex) of the per-device MQTT secret (broker-auth.ts `hashSecret`). */
  secretHash?: string;
  /** Serials (hex) of the certificates accepted from it: the newest and, after a renewal, the one before. */
  certSerials?: string[];
  certNotAfter?: number;
  renewedAt?: number;
  revokedAt?: number;
}

/**
 * An admin token of the REST API and dashboard (admin-tokens.ts). Only the SHA-256 of the secret
 * is kept: the secret itself is shown once, when the token is created.
 */
export interface AdminTokenRecord {
  id: string;
  name: string;
  /** sha256 of the token text, hex. */
  sha256: string;
  createdAt: number;
  /** Last request it authenticated (saved at most once a minute); null: never used. */
  lastUsedAt: number | null;
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
  listDevices(): Promise<DeviceRecord[]>;
  putDevice(device: DeviceRecord): Promise<void>;
  listAdminTokens(): Promise<AdminTokenRecord[]>;
  putAdminToken(token: AdminTokenRecord): Promise<void>;
  deleteAdminToken(id: string): Promise<void>;
}
