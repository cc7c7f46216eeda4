/** The package ships no types; this is its whole API as we use it (lib/index.js). */
declare module "cluster-key-slot" {
  /** The cluster hash slot (0–16383) of a key, honouring `{hash tags}`. */
  export default function calculateSlot(key: string | Buffer): number;
}
