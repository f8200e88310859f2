// Types for stars.js, the STARS runtime client (runtime/README.md, "Client behaviour").

export type State = "disconnected" | "connecting" | "connected" | "closed";
export type EventName =
  | "state" | "connecting" | "connected" | "disconnected" | "resubscribed" | "recovered" | "message" | "error";

export interface Message { channel: string; offset: number; data: unknown }
export interface StateEvent { state: State; url?: string; code?: number | null; reason?: string }
export interface ConnectedEvent { url: string }
export interface DisconnectedEvent { code: number | null; reason: string; reconnect: boolean; delay: number }
export interface ResubscribedEvent { channel: string; since: number; offset: number }
export interface RecoveredEvent { channel: string; from: number; to: number; count: number }
export interface ErrorEvent { code: string; message: string; channel?: string }
export interface EventMap {
  state: StateEvent; connecting: { url: string }; connected: ConnectedEvent; disconnected: DisconnectedEvent;
  resubscribed: ResubscribedEvent; recovered: RecoveredEvent; message: Message; error: ErrorEvent;
}

export interface Options {
  backoffBase?: number; // seconds (0.5)
  backoffMax?: number; // seconds (15)
  pingInterval?: number; // seconds of silence before a ping (10)
  pongTimeout?: number; // seconds more of silence before the connection counts as dead (10)
  publishTimeout?: number; // seconds from publish() to its ack (15)
  maxBuffer?: number; // publishes held while offline (100)
  maxFrameBytes?: number; // the server's STARS_MAX_FRAME_BYTES (65536)
  refreshMargin?: number; // seconds before the token's exp to fetch the next one (30)
  openTimeout?: number; // seconds for the handshake (10)
}

export interface HistoryItem { offset: number; data: unknown; published_at: string }
export interface PresenceUser { sub: string; connections: number }

export class StarsError extends Error {
  readonly code: string;
  readonly detail: string;
  readonly status?: number;
}

export const EVENTS: readonly EventName[];
export function fullJitter(attempt: number, base: number, cap: number): number;
export function tokenExpiry(token: string): number | null;
export function socketUrl(base: string, token: string): string;
export function socketProtocols(token: string): ["bearer", string];

export class Client {
  constructor(url: string | string[], token: () => string | Promise<string>, options?: Options);
  readonly state: State;
  readonly url: string | null;
  readonly duplicatesDropped: number;
  on<E extends EventName>(event: E, listener: (payload: EventMap[E]) => void): () => void;
  connect(timeout?: number | null): Promise<void>;
  close(): void;
  subscribe(channel: string, options?: { since?: number | null; onMessage?: (m: Message) => void }): Promise<number>;
  unsubscribe(channel: string): Promise<void>;
  publish(channel: string, data: unknown): Promise<number>;
  history(channel: string, options?: { since?: number; limit?: number }): Promise<HistoryItem[]>;
  presence(channel: string): Promise<PresenceUser[]>;
}
