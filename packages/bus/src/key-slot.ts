/**
 * @module
 * Redis Cluster's hash slot of a key (cluster spec: CRC16-XMODEM of the key's UTF-8 bytes, or of
 * its first non-empty `{hash tag}`, mod 16384). Not `cluster-key-slot` (ioredis's): it disagrees
 * with Redis on keys such as `a{}b{c}` (an empty first tag, then another), and the subscriber
 * link picks the master to SSUBSCRIBE on by this slot, where a wrong master answers MOVED.
 * redis-cluster-bus.int.test.ts checks this function against CLUSTER KEYSLOT.
 */

export const SLOTS = 16_384;

const TABLE = (() => {
  const table = new Uint16Array(256);
  for (let i = 0; i < 256; i++) {
    let crc = i << 8;
    for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? (crc << 1) ^ 0x1021 : crc << 1;
    table[i] = crc & 0xffff;
  }
  return table;
})();

export function keySlot(key: string): number {
  const bytes = Buffer.from(key, "utf8");
  let start = 0;
  let end = bytes.length;
  const open = bytes.indexOf(0x7b); // "{"
  if (open !== -1) {
    const close = bytes.indexOf(0x7d, open + 1); // the first "}" after it
    if (close > open + 1) {
      start = open + 1;
      end = close;
    }
  }
  let crc = 0;
  for (let i = start; i < end; i++) crc = ((crc << 8) & 0xff00) ^ TABLE[((crc >> 8) ^ bytes[i]!) & 0xff]!;
  return crc & (SLOTS - 1);
}
