import { Level } from 'level';
import type { AdminTokenRecord, AppRecord, DeviceRecord, MasterStore, NodeRecord } from './master-store.js';
import type { RolloutRecord } from './rollout-types.js';

/** MasterStore on LevelDB: one sublevel per kind of record, JSON values, bundles as bytes. */
export class LevelMasterStore implements MasterStore {
  private readonly db: Level<string, string>;
  private readonly apps;
  private readonly nodes;
  private readonly bundles;
  private readonly rollouts;
  private readonly devices;
  private readonly adminTokens;

  constructor(path: string) {
    this.db = new Level<string, string>(path);
    this.apps = this.db.sublevel<string, AppRecord>('apps', { valueEncoding: 'json' });
    this.nodes = this.db.sublevel<string, NodeRecord>('nodes', { valueEncoding: 'json' });
    this.bundles = this.db.sublevel<string, Uint8Array>('bundles', { valueEncoding: 'view' });
    this.rollouts = this.db.sublevel<string, RolloutRecord>('rollouts', { valueEncoding: 'json' });
    this.devices = this.db.sublevel<string, DeviceRecord>('devices', { valueEncoding: 'json' });
    this.adminTokens = this.db.sublevel<string, AdminTokenRecord>('admin-tokens', { valueEncoding: 'json' });
  }

  async open(): Promise<void> {
    await this.db.open();
  }

  async close(): Promise<void> {
    await this.db.close();
  }

  async listApps(): Promise<AppRecord[]> {
    return this.apps.values().all();
  }

  async putApp(app: AppRecord): Promise<void> {
    await this.apps.put(app.id, app);
  }

  async putBundle(sha256: string, bytes: Uint8Array): Promise<void> {
    await this.bundles.put(sha256, bytes);
  }

  async getBundle(sha256: string): Promise<Uint8Array | undefined> {
    return this.bundles.get(sha256);
  }

  async listNodes(): Promise<NodeRecord[]> {
    return this.nodes.values().all();
  }

  async putNode(node: NodeRecord): Promise<void> {
    await this.nodes.put(node.id, node);
  }

  async listRollouts(): Promise<RolloutRecord[]> {
    return this.rollouts.values().all();
  }

  async putRollout(rollout: RolloutRecord): Promise<void> {
    await this.rollouts.put(rollout.id, rollout);
  }

  async listDevices(): Promise<DeviceRecord[]> {
    return this.devices.values().all();
  }

  async putDevice(device: DeviceRecord): Promise<void> {
    await this.devices.put(device.id, device);
  }

  async listAdminTokens(): Promise<AdminTokenRecord[]> {
    return this.adminTokens.values().all();
  }

  async putAdminToken(token: AdminTokenRecord): Promise<void> {
    await this.adminTokens.put(token.id, token);
  }

  async deleteAdminToken(id: string): Promise<void> {
    await this.adminTokens.del(id);
  }
}
