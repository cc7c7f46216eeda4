/** @module Comparing a presented secret with the configured one without leaking it through timing. */
import { createHash, timingSafeEqual } from "node:crypto";

/** Both sides are hashed first, so the comparison takes the same time whatever their lengths. */
export function secretMatcher(secret: string): (candidate: string) => boolean {
  const want = createHash("sha256").update(secret).digest();
  return (candidate) => timingSafeEqual(createHash("sha256").update(candidate).digest(), want);
}
