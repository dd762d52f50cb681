/**
 * Bytes the master has sent each device since it started: agent binaries (install-routes.ts),
 * application bundles (GET /bundles/:sha) and remote configurations (in desired states). The URLs
 * the master hands a device name it (`?node=<id>`); only ids the registry knows are counted, so an
 * unauthenticated download cannot grow this map. Fleet rollouts show each step's share
 * (rollout-manager.ts); `tributary_device_sent_bytes_total` is their sum (metrics.ts).
 */
export class DeviceTraffic {
  private readonly sent = new Map<string, number>();
  total = 0;

  constructor(private readonly known: (node: string) => boolean) {}

  add(node: string | undefined, bytes: number): void {
    if (!node || !(bytes > 0) || !this.known(node)) return;
    this.sent.set(node, (this.sent.get(node) ?? 0) + bytes);
    this.total += bytes;
  }

  get(node: string): number {
    return this.sent.get(node) ?? 0;
  }
}

/** `url?node=<id>`: a download URL that names the device it is meant for. */
export function forNode(url: string, node: string): string {
  return `${url}${url.includes('?') ? '&' : '?'}node=${encodeURIComponent(node)}`;
}
