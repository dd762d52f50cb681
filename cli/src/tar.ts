import { gzipSync } from 'node:zlib';

/** One entry of a tarball: a directory (no data) or a regular file. */
export interface TarEntry {
  name: string;
  mode: number;
  data?: Uint8Array;
}

/**
 * A gzip-compressed POSIX ustar archive, written in memory: `tributary fleet bundle` packs an
 * offline device bundle with it, which `tar -xzf` (GNU tar, busybox tar) unpacks on the device.
 * Owner root (uid/gid 0), so unpacking as root gives root-owned files. Names up to 255 bytes.
 */
export function tarGz(entries: TarEntry[], mtimeSeconds = Math.floor(Date.now() / 1000)): Buffer {
  const blocks: Buffer[] = [];
  for (const e of entries) {
    const dir = e.data === undefined;
    const size = e.data?.length ?? 0;
    blocks.push(header(dir && !e.name.endsWith('/') ? `${e.name}/` : e.name, e.mode, size, mtimeSeconds, dir ? '5' : '0'));
    if (e.data) {
      blocks.push(Buffer.from(e.data.buffer, e.data.byteOffset, e.data.length));
      const pad = (512 - (size % 512)) % 512;
      if (pad) blocks.push(Buffer.alloc(pad));
    }
  }
  blocks.push(Buffer.alloc(1024)); // two zero blocks end the archive
  return gzipSync(Buffer.concat(blocks), { level: 6 });
}

function header(name: string, mode: number, size: number, mtime: number, type: '0' | '5'): Buffer {
  const h = Buffer.alloc(512);
  let prefix = '';
  let base = name;
  if (Buffer.byteLength(name) > 100) {
    const cut = name.lastIndexOf('/', name.length - 2);
    prefix = name.slice(0, cut);
    base = name.slice(cut + 1);
    if (cut <= 0 || Buffer.byteLength(base) > 100 || Buffer.byteLength(prefix) > 155) throw new Error(`tar: name too long: ${name}`);
  }
  h.write(base, 0, 100, 'utf8');
  octal(h, 100, 8, mode);
  octal(h, 108, 8, 0);
  octal(h, 116, 8, 0);
  octal(h, 124, 12, size);
  octal(h, 136, 12, mtime);
  h.fill(' ', 148, 156); // the checksum is computed with its own field as spaces
  h.write(type, 156, 1, 'ascii');
  h.write('ustar\0', 257, 6, 'ascii');
  h.write('00', 263, 2, 'ascii');
  h.write('root', 265, 32, 'ascii');
  h.write('root', 297, 32, 'ascii');
  h.write(prefix, 345, 155, 'utf8');
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8, 'ascii');
  return h;
}

function octal(h: Buffer, offset: number, length: number, value: number): void {
  h.write(`${value.toString(8).padStart(length - 1, '0')}\0`, offset, length, 'ascii');
}
