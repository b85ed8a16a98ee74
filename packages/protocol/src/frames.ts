import { MAX_DAEMON_LENGTH, isName } from './entry';
import type { LogStreamErrorCode, LogStreamErrorKind } from './errors';

/** The server's socket when nobody says otherwise (the spec's default). */
export const DEFAULT_SOCKET_PATH = '/tmp/logstream.sock';

/** The wire protocol's version, sent in the `ready` frame. */
export const PROTOCOL_VERSION = 1;

/** The server's answer to a handshake: it is ready for entries. */
export interface ReadyFrame {
  type: 'ready';
  version: number;
  /** The longest line the server accepts, in bytes (without the newline). */
  max_line_bytes: number;
}

/** Cumulative acknowledgement: the first `seq` lines of this connection are dealt with. */
export interface AckFrame {
  type: 'ack';
  seq: number;
}

/** A line or a connection was refused. `seq` is the 1-based line it answers, when it answers one. */
export interface ErrorFrame {
  type: 'error';
  kind: LogStreamErrorKind;
  code: LogStreamErrorCode;
  message: string;
  seq?: number;
}

/** Any line the server sends. */
export type ServerFrame = ReadyFrame | AckFrame | ErrorFrame;

/** Encodes the `ready` frame, newline included. */
export function encodeReady(maxLineBytes: number): string {
  return `{"type":"ready","version":${PROTOCOL_VERSION},"max_line_bytes":${maxLineBytes}}\n`;
}

/** Encodes an `ack` frame, newline included. */
export function encodeAck(seq: number): string {
  return `{"type":"ack","seq":${seq}}\n`;
}

/** Encodes an `error` frame, newline included. */
export function encodeError(frame: Omit<ErrorFrame, 'type'>): string {
  return `${JSON.stringify({ type: 'error', ...frame })}\n`;
}

/** Encodes the client's handshake line: its daemon name and a newline. */
export function encodeHandshake(daemon: string): string {
  return `${daemon}\n`;
}

/**
 * Checks a handshake line's daemon name: 1 to 255 characters, no control characters, and not
 * starting with `{` (which would make it an entry). Returns an error message, or undefined.
 */
export function checkDaemonName(name: string): string | undefined {
  if (name.startsWith('{')) return 'daemon name must not start with "{"';
  if (!isName(name, MAX_DAEMON_LENGTH)) {
    return `daemon name must be 1 to ${MAX_DAEMON_LENGTH} characters without control characters`;
  }
  return undefined;
}

/** Parses one line from the server; undefined when it is not a frame of this protocol. */
export function parseServerFrame(line: string): ServerFrame | undefined {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const frame = value as Record<string, unknown>;
  switch (frame.type) {
    case 'ready':
      return typeof frame.version === 'number' ? (frame as unknown as ReadyFrame) : undefined;
    case 'ack':
      return typeof frame.seq === 'number' ? (frame as unknown as AckFrame) : undefined;
    case 'error':
      return typeof frame.message === 'string' ? (frame as unknown as ErrorFrame) : undefined;
    default:
      return undefined;
  }
}
