// Owns reading a stored entry line by offsets: a walker over the members of a known-valid JSON
// object, and an entry view built on it, so that output formats copy the line's bytes instead
// of decoding it with JSON.parse. The layout itself (which keys, in which order) belongs to the
// encoder: this reader takes the keys as the line spells them, in any order.
import { isAscii } from 'node:buffer';
import { CANONICAL_LITERALS as L, literal as literalAt } from './canonical-line';
import { BACKSLASH, CLOSE_BRACE, CLOSE_BRACKET, COLON, COMMA, OPEN_BRACE, OPEN_BRACKET, QUOTE } from './json-bytes';
import type { LogLevel } from './level';

// Past the end of any line, and a small integer (a double here slows every comparison).
const NOWHERE = 0x3fffffff;

/** What a JSON value is, by its first byte. */
export type JsonValueKind = 'string' | 'number' | 'object' | 'array' | 'literal';

/**
 * Where one JSON string lies in a line: the bytes between its quotes. When `escaped` is false
 * those bytes are the value's UTF-8 as they are; otherwise the value must be decoded
 * ({@link decodeSpan}).
 */
export class TextSpan {
  /** Offset of the first byte after the opening quote. */
  start = 0;
  /** Offset of the closing quote. */
  end = 0;
  /** True when a backslash escape lies between the quotes. */
  escaped = false;
}

/** The value of `span` in `line` as a string (UTF-8 as is, or JSON-decoded when escaped). */
export function decodeSpan(line: Buffer, span: TextSpan): string {
  if (!span.escaped) return line.toString('utf8', span.start, span.end);
  return JSON.parse(line.toString('utf8', span.start - 1, span.end + 1)) as string;
}

/**
 * Walks the members of one JSON object in a line the caller knows to be valid JSON (the
 * server checked it): `next()` moves to the next member and sets the offsets of its key and
 * value. Nothing is decoded or allocated; strings are found with `indexOf`, and a string is
 * marked `escaped` only when a backslash lies inside it. On bytes that are not valid JSON it
 * stops (`next()` returns false) rather than reading past the object.
 */
export class JsonObjectReader {
  /** The member's key. */
  readonly key = new TextSpan();
  /** The kind of the member's value. */
  kind: JsonValueKind = 'literal';
  /** The member's value when it is a string. */
  readonly text = new TextSpan();
  /** Offsets of the member's value: from its first byte to just after its last. */
  valueStart = 0;
  valueEnd = 0;
  #line: Buffer = Buffer.alloc(0);
  #pos = 0;
  #nextBackslash = NOWHERE;
  #done = true;

  /**
   * Starts reading the object whose `{` is at `start` (leading whitespace allowed).
   * `mayHaveEscapes` false (the caller knows the line has no backslash) skips the escape search.
   */
  reset(line: Buffer, start = 0, mayHaveEscapes = true): this {
    this.#line = line;
    const at = skipSpace(line, start);
    this.#done = line[at] !== OPEN_BRACE;
    this.#pos = at + 1;
    const b = mayHaveEscapes ? line.indexOf(BACKSLASH, at) : -1;
    this.#nextBackslash = b === -1 ? NOWHERE : b;
    return this;
  }

  /** Offset just after the object's `}`, once `next()` has returned false after reading it whole. */
  get end(): number {
    return this.#pos;
  }

  /** Moves to the next member; false at the end of the object (or on bytes that are not JSON). */
  next(): boolean {
    if (this.#done) return false;
    const line = this.#line;
    let at = skipSpace(line, this.#pos);
    if (line[at] === COMMA) at = skipSpace(line, at + 1);
    if (line[at] !== QUOTE) return this.#stop(line[at] === CLOSE_BRACE ? at + 1 : at);
    at = this.#string(at + 1, this.key);
    if (at < 0) return this.#stop(line.length);
    at = skipSpace(line, at);
    if (line[at] !== COLON) return this.#stop(at);
    at = skipSpace(line, at + 1);
    this.valueStart = at;
    const first = line[at];
    if (first === QUOTE) {
      this.kind = 'string';
      at = this.#string(at + 1, this.text);
      if (at < 0) return this.#stop(line.length);
    } else if (first === OPEN_BRACE || first === OPEN_BRACKET) {
      this.kind = first === OPEN_BRACE ? 'object' : 'array';
      at = this.#skipNested(at);
      if (at < 0) return this.#stop(line.length);
    } else {
      this.kind = first === undefined ? 'literal' : (first >= 0x30 && first <= 0x39) || first === 0x2d ? 'number' : 'literal';
      at = skipScalar(line, at);
      if (at === this.valueStart) return this.#stop(at);
    }
    this.valueEnd = at;
    this.#pos = at;
    return true;
  }

  /**
   * Reads the string whose first byte (after its opening quote) is at `start` into `span`;
   * returns the offset after its closing quote, or -1. For readers that know where a value is.
   */
  stringAt(start: number, span: TextSpan): number {
    return this.#string(start, span);
  }

  /** Skips the object or array at `start`; returns the offset after it, or -1. */
  skipAt(start: number): number {
    return this.#skipNested(start);
  }

  /** True when the current key is `name` (ASCII, no escapes). */
  keyIs(name: string): boolean {
    const key = this.key;
    if (key.escaped || key.end - key.start !== name.length) return false;
    const line = this.#line;
    for (let i = 0; i < name.length; i++) if (line[key.start + i] !== name.charCodeAt(i)) return false;
    return true;
  }

  /** The current value as an integer when it is a plain non-negative integer; NaN otherwise. */
  integer(): number {
    const line = this.#line;
    let n = 0;
    for (let i = this.valueStart; i < this.valueEnd; i++) {
      const d = (line[i] as number) - 0x30;
      if (d < 0 || d > 9) return this.kind === 'number' ? Number(line.toString('latin1', this.valueStart, this.valueEnd)) : NaN;
      n = n * 10 + d;
    }
    return this.valueEnd > this.valueStart ? n : NaN;
  }

  /** True when the current value is the literal `null`. */
  isNull(): boolean {
    return this.kind === 'literal' && this.valueEnd - this.valueStart === 4 && this.#line[this.valueStart] === 0x6e;
  }

  #stop(at: number): false {
    this.#done = true;
    this.#pos = at;
    return false;
  }

  /** Finds the end of the string whose first byte is at `start`; returns the offset after its closing quote, or -1. */
  #string(start: number, span: TextSpan): number {
    const line = this.#line;
    span.start = start;
    span.escaped = false;
    let b = this.#nextBackslash;
    // Short strings (keys, most values) are scanned here: a call into indexOf costs more than a
    // few bytes of loop. Before the next backslash of the line, the next quote ends the string.
    const far = start + 32;
    const limit = far < line.length ? far : line.length;
    let quote = start;
    while (quote < limit && line[quote] !== QUOTE) quote++;
    if (quote === limit && b === NOWHERE) quote = line.indexOf(QUOTE, quote);
    if (quote < limit || b === NOWHERE) {
      if (quote === -1) return -1;
      if (quote < b) {
        span.end = quote;
        return quote + 1;
      }
    }
    quote = line.indexOf(QUOTE, start);
    if (quote === -1) return -1;
    if (b < start) {
      // Only after a nested value was skipped by its own scan.
      b = line.indexOf(BACKSLASH, start);
      if (b === -1) b = NOWHERE;
    }
    while (b < quote) {
      span.escaped = true;
      // The backslash escapes the byte after it; when that is the quote, the string goes on.
      if (b + 1 === quote) {
        quote = line.indexOf(QUOTE, quote + 1);
        if (quote === -1) return -1;
      }
      b = line.indexOf(BACKSLASH, b + 2);
      if (b === -1) b = NOWHERE;
    }
    this.#nextBackslash = b;
    span.end = quote;
    return quote + 1;
  }

  /** Skips an object or array starting at `start`; returns the offset after its closing bracket, or -1. */
  #skipNested(start: number): number {
    const line = this.#line;
    const scratch = SCRATCH;
    let depth = 0;
    let at = start;
    while (at < line.length) {
      const c = line[at] as number;
      if (c === QUOTE) {
        at = this.#string(at + 1, scratch);
        if (at < 0) return -1;
        continue;
      }
      if (c === OPEN_BRACE || c === OPEN_BRACKET) depth++;
      else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
        depth--;
        if (depth === 0) return at + 1;
      }
      at++;
    }
    return -1;
  }
}

const SCRATCH = new TextSpan();

function skipSpace(line: Buffer, at: number): number {
  let c = line[at];
  while (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) c = line[++at];
  return at;
}

function skipScalar(line: Buffer, at: number): number {
  let c = line[at];
  while (
    c !== undefined &&
    c !== COMMA &&
    c !== CLOSE_BRACE &&
    c !== CLOSE_BRACKET &&
    c !== 0x20 &&
    c !== 0x0a &&
    c !== 0x0d &&
    c !== 0x09
  ) {
    c = line[++at];
  }
  return at;
}

/**
 * One stored entry line read by offsets ({@link read}): the spans of its strings, its level and
 * pid as numbers, where its `fields` object starts, and its `peer`. Reused from line to line, so
 * a batch is read without allocating per entry. Formatters copy the spans' bytes and decode only
 * what has a backslash ({@link decodeSpan}).
 */
export class EntryView {
  /** The line last read. */
  line: Buffer = Buffer.alloc(0);
  #plain = -1;
  readonly id = new TextSpan();
  readonly timestamp = new TextSpan();
  level: LogLevel = 6;
  readonly daemon = new TextSpan();
  readonly message = new TextSpan();
  /** Offset of the `{` of `fields`. */
  fieldsStart = 0;
  /** The entry's own `pid` (the client's word), or null. */
  pid: number | null = null;
  /** `hostname`, or null when it is null. */
  hostname: TextSpan | null = null;
  /** `absent` (an entry stored before `peer` existed), `null` (the kernel could not say) or `known`. */
  peer: 'absent' | 'null' | 'known' = 'absent';
  /** The sender's pid, uid and gid as the kernel says, when `peer` is `known`. */
  peerPid = 0;
  peerUid = 0;
  peerGid = 0;
  /** `peer.comm`, `peer.exe` and `peer.unit` when `peer` is `known` and they are there; else null. */
  peerComm: TextSpan | null = null;
  peerExe: TextSpan | null = null;
  peerUnit: TextSpan | null = null;
  readonly #reader = new JsonObjectReader();
  readonly #inner = new JsonObjectReader();
  readonly #hostname = new TextSpan();
  readonly #comm = new TextSpan();
  readonly #exe = new TextSpan();
  readonly #unit = new TextSpan();
  #escapes = true;
  // The last `peer` object read by the layout path, its bytes and what they said (spans relative
  // to its `{`): every entry of a connection carries the same one.
  #peerBytes: Buffer = Buffer.alloc(0);
  #peerLength = -1;
  #cachedPid = 0;
  #cachedUid = 0;
  #cachedGid = 0;
  readonly #cachedComm = new TextSpan();
  readonly #cachedExe = new TextSpan();
  readonly #cachedUnit = new TextSpan();
  #cachedHas = 0; // bits: 1 comm, 2 exe, 4 unit

  /**
   * Reads `line`, a stored entry's JSON (valid UTF-8, as the server stores only such lines).
   * Returns false when it lacks a member an entry must have (or one has the wrong type): the
   * caller then decodes the line as an object instead.
   */
  read(line: Buffer): boolean {
    this.line = line;
    this.#plain = -1;
    this.#escapes = line.indexOf(BACKSLASH) !== -1;
    this.hostname = null;
    this.peer = 'absent';
    this.peerComm = this.peerExe = this.peerUnit = null;
    const r = this.#reader.reset(line, 0, this.#escapes);
    if (this.#readLayout(line, r)) return true;
    r.reset(line, 0, this.#escapes);
    let seen = 0;
    while (r.next()) {
      const len = r.key.end - r.key.start;
      const kind = r.kind;
      if (kind === 'string') {
        if (len === 7 && r.keyIs('message')) {
          copySpan(r.text, this.message);
          seen |= 1;
        } else if (len === 2 && r.keyIs('id')) {
          copySpan(r.text, this.id);
          seen |= 2;
        } else if (len === 9 && r.keyIs('timestamp')) {
          copySpan(r.text, this.timestamp);
          seen |= 4;
        } else if (len === 6 && r.keyIs('daemon')) {
          copySpan(r.text, this.daemon);
          seen |= 8;
        } else if (len === 8 && r.keyIs('hostname')) {
          this.hostname = copySpan(r.text, this.#hostname);
          seen |= 16;
        }
      } else if (kind === 'number') {
        if (len === 5 && r.keyIs('level')) {
          const level = r.integer();
          if (!(level >= 0 && level <= 7)) return false;
          this.level = level as LogLevel;
          seen |= 32;
        } else if (len === 3 && r.keyIs('pid')) {
          this.pid = r.integer();
          seen |= 64;
        }
      } else if (kind === 'object') {
        if (len === 6 && r.keyIs('fields')) {
          this.fieldsStart = r.valueStart;
          seen |= 128;
        } else if (len === 4 && r.keyIs('peer')) {
          if (!this.#readPeer(r.valueStart)) return false;
        }
      } else if (r.isNull()) {
        if (len === 3 && r.keyIs('pid')) {
          this.pid = null;
          seen |= 64;
        } else if (len === 8 && r.keyIs('hostname')) {
          seen |= 16;
        } else if (len === 4 && r.keyIs('peer')) {
          this.peer = 'null';
        }
      }
    }
    return seen === 255;
  }

  /**
   * Reads a line in the canonical layout (every stored line the server wrote): each key where
   * the layout puts it, checked by its literal bytes, no key matching. False (having set
   * nothing the generic read does not set again) for any other layout.
   */
  #readLayout(line: Buffer, r: JsonObjectReader): boolean {
    if (!literalAt(line, 0, L.HEAD) || line[L.HEAD.length] !== QUOTE) return false;
    let at = r.stringAt(L.HEAD.length + 1, this.id);
    if (at < 0 || !literalAt(line, at, L.TIMESTAMP) || line[at + L.TIMESTAMP.length] !== QUOTE) return false;
    at = r.stringAt(at + L.TIMESTAMP.length + 1, this.timestamp);
    if (at < 0 || !literalAt(line, at, L.LEVEL)) return false;
    at += L.LEVEL.length;
    const level = (line[at] as number) - 0x30;
    if (!(level >= 0 && level <= 7)) return false;
    at++;
    if (!literalAt(line, at, L.DAEMON) || line[at + L.DAEMON.length] !== QUOTE) return false;
    at = r.stringAt(at + L.DAEMON.length + 1, this.daemon);
    if (at < 0 || !literalAt(line, at, L.MESSAGE) || line[at + L.MESSAGE.length] !== QUOTE) return false;
    at = r.stringAt(at + L.MESSAGE.length + 1, this.message);
    if (at < 0 || !literalAt(line, at, L.FIELDS)) return false;
    this.fieldsStart = at + L.FIELDS.length - 1;
    // Fields are strings: inside one, a quote is escaped, so `},"pid":` can only be where the
    // object ends (the line is valid JSON).
    at = line.indexOf(L.PID, this.fieldsStart);
    if (at < 0) return false;
    at += L.PID.length;
    if (line[at] === 0x6e /* n */) {
      this.pid = null;
      at += 4;
    } else {
      let pid = 0;
      const from = at;
      for (let d = (line[at] as number) - 0x30; d >= 0 && d <= 9; d = (line[++at] as number) - 0x30) pid = pid * 10 + d;
      if (at === from) return false;
      this.pid = pid;
    }
    if (!literalAt(line, at, L.HOSTNAME)) return false;
    at += L.HOSTNAME.length;
    if (line[at] === QUOTE) {
      at = r.stringAt(at + 1, this.#hostname);
      if (at < 0) return false;
      this.hostname = this.#hostname;
    } else if (line[at] === 0x6e /* n */) {
      at += 4;
    } else {
      return false;
    }
    if (literalAt(line, at, L.PEER)) {
      at += L.PEER.length;
      if (line[at] === OPEN_BRACE) {
        at = this.#readLastPeer(line, at);
      } else {
        this.peer = 'null';
        at += 4;
      }
    }
    if (at !== line.length - 1 || line[at] !== CLOSE_BRACE) {
      this.hostname = null;
      this.peer = 'absent';
      this.peerComm = this.peerExe = this.peerUnit = null;
      return false;
    }
    this.level = level as LogLevel;
    return true;
  }

  /**
   * True when the line is ASCII without DEL: then no unescaped span holds a character a log
   * line must escape (JSON has no raw C0 controls), and formatters skip their byte checks.
   * Computed on first use for each line.
   */
  get plain(): boolean {
    if (this.#plain < 0) this.#plain = isAscii(this.line) && this.line.indexOf(0x7f) === -1 ? 1 : 0;
    return this.#plain === 1;
  }

  /** A reader over the entry's `fields`: each member is a key and its string value. */
  fields(): JsonObjectReader {
    return this.#inner.reset(this.line, this.fieldsStart, this.#escapes);
  }

  /** The value of `span` as a string ({@link decodeSpan} over this line). */
  text(span: TextSpan): string {
    return decodeSpan(this.line, span);
  }

  /**
   * Reads the `peer` object at `start`, the line's last member; returns the offset after it, or
   * -1. The same bytes as the last one read are not read again.
   */
  #readLastPeer(line: Buffer, start: number): number {
    const length = line.length - 1 - start;
    if (length === this.#peerLength && line.compare(this.#peerBytes, 0, length, start, start + length) === 0) {
      this.peer = 'known';
      this.peerPid = this.#cachedPid;
      this.peerUid = this.#cachedUid;
      this.peerGid = this.#cachedGid;
      const has = this.#cachedHas;
      this.peerComm = (has & 1) !== 0 ? shiftSpan(this.#cachedComm, start, this.#comm) : null;
      this.peerExe = (has & 2) !== 0 ? shiftSpan(this.#cachedExe, start, this.#exe) : null;
      this.peerUnit = (has & 4) !== 0 ? shiftSpan(this.#cachedUnit, start, this.#unit) : null;
      return start + length;
    }
    if (!this.#readPeer(start)) return -1;
    const end = this.#inner.end;
    if (end === line.length - 1) {
      if (this.#peerBytes.length < length) this.#peerBytes = Buffer.allocUnsafe(Math.max(length, 256));
      line.copy(this.#peerBytes, 0, start, end);
      this.#peerLength = length;
      this.#cachedPid = this.peerPid;
      this.#cachedUid = this.peerUid;
      this.#cachedGid = this.peerGid;
      let has = 0;
      if (this.peerComm !== null) {
        shiftSpan(this.peerComm, -start, this.#cachedComm);
        has |= 1;
      }
      if (this.peerExe !== null) {
        shiftSpan(this.peerExe, -start, this.#cachedExe);
        has |= 2;
      }
      if (this.peerUnit !== null) {
        shiftSpan(this.peerUnit, -start, this.#cachedUnit);
        has |= 4;
      }
      this.#cachedHas = has;
    }
    return end;
  }

  #readPeer(start: number): boolean {
    const r = this.#inner.reset(this.line, start, this.#escapes);
    let seen = 0;
    while (r.next()) {
      const len = r.key.end - r.key.start;
      if (r.kind === 'number') {
        if (len === 3 && r.keyIs('pid')) {
          this.peerPid = r.integer();
          seen |= 1;
        } else if (len === 3 && r.keyIs('uid')) {
          this.peerUid = r.integer();
          seen |= 2;
        } else if (len === 3 && r.keyIs('gid')) {
          this.peerGid = r.integer();
          seen |= 4;
        }
      } else if (r.kind === 'string' && len === 4) {
        if (r.keyIs('comm')) this.peerComm = copySpan(r.text, this.#comm);
        else if (r.keyIs('unit')) this.peerUnit = copySpan(r.text, this.#unit);
      } else if (r.kind === 'string' && len === 3 && r.keyIs('exe')) {
        this.peerExe = copySpan(r.text, this.#exe);
      }
    }
    if (seen !== 7) return false;
    this.peer = 'known';
    return true;
  }
}

/** `to` set to `from` moved by `delta` bytes. */
function shiftSpan(from: TextSpan, delta: number, to: TextSpan): TextSpan {
  to.start = from.start + delta;
  to.end = from.end + delta;
  to.escaped = from.escaped;
  return to;
}

function copySpan(from: TextSpan, to: TextSpan): TextSpan {
  to.start = from.start;
  to.end = from.end;
  to.escaped = from.escaped;
  return to;
}
