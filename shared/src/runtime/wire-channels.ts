import { decodeControl } from '../wire/control.js';
import { taskAddress, type TaskPlacement } from '../wire/assignment.js';
import { topics } from '../wire/topics.js';
import type { Transport } from '../wire/transport.js';
import type { Logger } from '../log/log.js';
import type { ChannelTaskRunner } from './channel-task-runner.js';
import { CreditBatcher } from './credit-batcher.js';
import { FrameReceiver } from './frame-receiver.js';
import type { ReceiveChannel } from './receive-channel.js';
import { RemoteChannel } from './remote-channel.js';
import { systemClock, type Clock, type Timer } from './wall-clock.js';

/** Counters of the wire side, for heartbeats, the API and /metrics. */
export interface WireStats {
  framesIn: number;
  framesOut: number;
  /** Frames out whose values section was the replay log's bytes, not encoded again (encode once). */
  framesReusingValues: number;
  /** Frames that failed to decode or named an unknown channel: dropped, counted, logged. */
  framesRejected: number;
  /** Frames from another epoch (zombie tasks after a recovery): dropped and counted. */
  framesFenced: number;
  /** QoS 1 redeliveries recognised by sequence number and dropped. */
  duplicates: number;
  /** Frames whose first sequence number skipped ahead: messages were lost in between. */
  gaps: number;
  lateUndelivered: number;
}

/** A local receiving task's end of a remote channel. */
interface Inbound {
  host: ChannelTaskRunner;
  channel: number;
  /** `<sender node>|<sender address>`: where credits for this channel go. */
  creditKey: string;
  receiver: number;
}

/**
 * Credit totals are re-announced this often on channels that carried no frame since the last
 * time: that is how a sender that started after our first announcement (and missed it) gets going.
 * The same tick drives the senders' AckRequest (RemoteChannel.tick).
 */
export const CREDIT_REFRESH_MS = 500;

/**
 * After start(), the credit totals are announced again this soon on channels that have heard
 * nothing yet: a recovery restarts every node's part at once, and a sender that got going a few
 * milliseconds after this receiver missed the first announcement (its results waited for the
 * next refresh tick, half a second; seen in the recovery benchmark's agent kills).
 */
export const EARLY_REANNOUNCE_MS: readonly number[] = [100, 250];

export interface WireChannelsOptions {
  app: string;
  epoch: number;
  nodeId: string;
  transport: Transport;
  log: Logger;
  /** Shared with AppRuntime, which adds lateUndelivered. */
  stats: WireStats;
  clock?: Clock;
}

/**
 * The wire side of one application on one node (AppRuntime owns it): the remote channels out of
 * its tasks, the receive protocol into them (FrameReceiver), credits both ways and the refresh
 * tick. Data and credit messages come in through onData/onCredit; everything goes out through
 * the transport at QoS 1.
 */
export class WireChannels {
  private readonly receiver: FrameReceiver<Inbound>;
  private readonly outbound = new Map<string, RemoteChannel>();
  /** `<sender>><receiver>` -> the node hosting the receiver: the only node whose credits count. */
  private readonly outboundNode = new Map<string, string>();
  private readonly credits: CreditBatcher;
  private readonly clock: Clock;
  private refresh: Timer | null = null;
  private early: Timer[] = [];
  private readonly stats: WireStats;

  constructor(private readonly options: WireChannelsOptions) {
    this.stats = options.stats;
    this.clock = options.clock ?? systemClock;
    this.receiver = new FrameReceiver(options.app, options.epoch);
    this.credits = new CreditBatcher((key, payload) => {
      const [node, addr] = key.split('|');
      this.publish(topics.credit(options.nodeId, node, options.app, addr), payload);
    });
  }

  /** The sending end of the channel from local task `sender` to task `receiver` on another node. */
  remoteChannel(sender: TaskPlacement, receiver: TaskPlacement): RemoteChannel {
    const sAddr = taskAddress(sender.processor, sender.index);
    const rAddr = taskAddress(receiver.processor, receiver.index);
    const { app, epoch, nodeId } = this.options;
    const topic = topics.data(nodeId, receiver.node, app, String(rAddr));
    const channel = new RemoteChannel({ app, epoch, sender: sAddr }, (bytes, reusedValues) => {
      this.stats.framesOut++;
      if (reusedValues) this.stats.framesReusingValues++;
      // encodeFrame's result has its own ArrayBuffer, used for nothing else: a thread hop moves it
      this.publish(topic, bytes, true);
    });
    this.outbound.set(`${sAddr}>${rAddr}`, channel);
    this.outboundNode.set(`${sAddr}>${rAddr}`, receiver.node);
    return channel;
  }

  /** The receiving end of the channel from remote task `sender` into local task `host`. */
  addInbound(receiver: TaskPlacement, sender: TaskPlacement, host: ChannelTaskRunner, idleTimeoutMs: number): void {
    const rAddr = taskAddress(receiver.processor, receiver.index);
    const sAddr = taskAddress(sender.processor, sender.index);
    const inb: Inbound = { host, channel: host.addChannel(), creditKey: `${sender.node}|${sAddr}`, receiver: rAddr };
    const state = this.receiver.add(rAddr, sAddr, inb, undefined, sender.node);
    if (idleTimeoutMs > 0) host.setIdleTimeout(idleTimeoutMs, [inb.channel]);
    if (this.refresh) this.announce(inb, state.creditTotal);
  }

  /** Everything is listening: announce the first credits and start the refresh tick. */
  start(): void {
    for (const { channel, target } of this.receiver.entries()) this.announce(target, channel.creditTotal);
    this.refresh = this.clock.setInterval(() => this.tick(), CREDIT_REFRESH_MS);
    this.early = EARLY_REANNOUNCE_MS.map((ms) => this.clock.setTimeout(() => this.reannounceUnheard(), ms));
  }

  stop(): void {
    this.refresh?.cancel();
    this.refresh = null;
    for (const t of this.early) t.cancel();
    this.early = [];
  }

  /** Announces again on the channels no frame has arrived on yet (EARLY_REANNOUNCE_MS). */
  private reannounceUnheard(): void {
    for (const { channel, target } of this.receiver.entries()) {
      if (!channel.heard && target.host.inputClock !== Infinity) this.announce(target, channel.creditTotal);
    }
  }

  /** One refresh tick: re-announce credit on quiet channels, let senders send AckRequests. */
  tick(): void {
    for (const { channel, target } of this.receiver.entries()) {
      if (channel.refreshDue() && target.host.inputClock !== Infinity) this.announce(target, channel.creditTotal);
    }
    for (const out of this.outbound.values()) out.tick();
  }

  /** A data message for local task `receiver`, published by node `from`. */
  onData(receiver: number, payload: Uint8Array, from?: string): void {
    this.stats.framesIn++;
    const r = this.receiver.receive(receiver, payload, from);
    switch (r.kind) {
      case 'reject':
        return this.reject(r.reason);
      case 'fenced':
        this.stats.framesFenced++;
        return;
      case 'duplicate':
        this.stats.duplicates++;
        return;
      case 'frozen':
        return;
      case 'gap':
        this.stats.gaps++;
        this.options.log.warn({ sender: r.frame.sender, receiver, expected: r.channel.expectedSeq, got: r.frame.firstSeq }, 'sequence gap: messages lost on the wire; waiting for recovery');
        return;
      case 'deliver': {
        const { target: inb, channel, frame } = r;
        inb.host.enqueue({ channel: inb.channel, messages: frame.messages, clock: frame.clock, release: () => this.released(inb, channel) });
      }
    }
  }

  /**
   * A credit message for local task `sender`, published by node `from`: CBOR array of
   * [receiverAddr, total]. Only the node hosting that receiver may grant its credit.
   */
  onCredit(sender: number, payload: Uint8Array, from?: string): void {
    const decoded = decodeControl('credit', payload);
    if (!decoded.ok) return this.reject(`bad credit message: ${decoded.reason}`);
    for (const [receiver, total] of decoded.value) {
      const k = `${sender}>${receiver}`;
      const node = this.outboundNode.get(k);
      if (from !== undefined && node !== undefined && from !== node) {
        this.reject(`credit for task ${sender} -> ${receiver} published by node ${from}, but task ${receiver} runs on ${node}`);
        continue;
      }
      this.outbound.get(k)?.grant(total);
    }
  }

  private released(inb: Inbound, channel: ReceiveChannel): void {
    const total = channel.released();
    if (total !== null) this.announce(inb, total);
  }

  private announce(inb: Inbound, total: number): void {
    this.credits.announce(inb.creditKey, inb.receiver, total);
  }

  private publish(topic: string, payload: Uint8Array, owned = false): void {
    this.options.transport.publish(topic, payload, { qos: 1, owned }).catch((err: Error) => {
      this.options.log.warn({ err: err.message, topic }, 'publish failed');
    });
  }

  private reject(reason: string): void {
    const n = ++this.stats.framesRejected;
    if (n <= 10 || n % 1000 === 0) this.options.log.warn({ app: this.options.app, rejected: n }, `frame rejected: ${reason}`);
  }
}
