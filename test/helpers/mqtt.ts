/** An embedded broker and plain MQTT clients for tests, closed when the test ends. */
import type { ExecutionContext } from 'ava';
import mqtt, { type MqttClient } from 'mqtt';
import { builtinConnectors, createLogger, createSource, type SourceContext, type SourceSpec } from '@tributary/shared';
import { startEmbeddedBroker } from '../../cloud-core/src/broker/index.js';

export const silent = createLogger({ level: 'silent' });

/** A quiet embedded aedes broker on an ephemeral port; resolves with its URL. */
export async function testBroker(t: ExecutionContext): Promise<string> {
  const b = await startEmbeddedBroker({ port: 0, log: silent });
  t.teardown(() => b.close());
  return b.url;
}

/** A plain mqtt.js client (MQTT 3.1.1, no reconnect), as any third-party device or consumer. */
export async function plainClient(t: ExecutionContext, url: string): Promise<MqttClient> {
  const client = await mqtt.connectAsync(url, { protocolVersion: 4, reconnectPeriod: 0 });
  t.teardown(() => client.endAsync(true));
  return client;
}

/** Resolves once the source of `spec` has opened, i.e. once the broker granted its subscription. */
export function whenOpened<T>(spec: SourceSpec<T>): { spec: SourceSpec<T>; opened: Promise<void> } {
  let resolveOpened!: () => void;
  const opened = new Promise<void>((resolve) => (resolveOpened = resolve));
  return {
    opened,
    spec: {
      ...spec,
      // Wrapped here, so the runtime must not make it from the connector reference.
      connector: undefined,
      create: () => {
        const source = createSource(spec, builtinConnectors);
        return {
          open: async (ctx: SourceContext) => {
            await source.open(ctx);
            resolveOpened();
          },
          read: (max: number) => source.read(max),
          close: () => source.close(),
        };
      },
    },
  };
}
