import { open, type FileHandle } from 'node:fs/promises';
import { StringDecoder } from 'node:string_decoder';
import { ErrorCodes, TributaryError } from '../api/errors.js';

/**
 * Reads a text file as lines, a chunk at a time, without a per-line promise (readline's async
 * iterator costs one per line). Handles \n and \r\n, multi-byte UTF-8 across chunk borders, and a
 * last line without a newline.
 */
export class LineReader {
  private fh: FileHandle | null = null;
  private readonly decoder = new StringDecoder('utf8');
  private readonly chunk: Buffer;
  private lines: string[] = [];
  private next = 0;
  private tail = '';
  private eof = false;
  /** 1-based number of the last line handed out, for error messages. */
  lineNumber = 0;

  constructor(private readonly path: string, chunkBytes = 1 << 20) {
    this.chunk = Buffer.allocUnsafe(chunkBytes);
  }

  /** Opens the file; a missing or unreadable one is a SOURCE_FAILED error naming it. */
  async open(): Promise<void> {
    try {
      this.fh = await open(this.path, 'r');
    } catch (cause) {
      throw new TributaryError(ErrorCodes.SOURCE_FAILED, `cannot open input file ${this.path}: ${(cause as Error).message}`, { cause });
    }
  }

  /** Up to `max` lines, or null at end of file. */
  async readLines(max: number): Promise<string[] | null> {
    while (this.next >= this.lines.length) {
      if (this.eof) return null;
      await this.fill();
    }
    const end = Math.min(this.lines.length, this.next + max);
    const out = this.lines.slice(this.next, end);
    this.next = end;
    this.lineNumber += out.length;
    return out;
  }

  private async fill(): Promise<void> {
    if (!this.fh) throw new Error('LineReader.open() was not called');
    const { bytesRead } = await this.fh.read(this.chunk, 0, this.chunk.length, null);
    let text: string;
    if (bytesRead === 0) {
      this.eof = true;
      text = this.tail + this.decoder.end();
      this.tail = '';
      this.lines = text.length > 0 ? [stripCr(text)] : [];
    } else {
      text = this.tail + this.decoder.write(this.chunk.subarray(0, bytesRead));
      const parts = text.split('\n');
      this.tail = parts.pop() ?? '';
      for (let i = 0; i < parts.length; i++) parts[i] = stripCr(parts[i]);
      this.lines = parts;
    }
    this.next = 0;
  }

  async close(): Promise<void> {
    const fh = this.fh;
    this.fh = null;
    await fh?.close();
  }
}

function stripCr(line: string): string {
  return line.endsWith('\r') ? line.slice(0, -1) : line;
}
