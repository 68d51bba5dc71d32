// Tests that need root (another user's files, system users, packages): CI runs as root and sets
// BLUEGREEN_REQUIRE_NETNS, so there they can never be skipped; elsewhere they skip, saying why.
import type { Context } from "mocha";

/** Skips the running test unless this process is root (fails instead where root is required). */
export function needsRoot(test: Context, why: string): void {
    if (process.getuid?.() === 0) return;
    if (process.env.BLUEGREEN_REQUIRE_NETNS)
        throw new Error("this test must run as root here (BLUEGREEN_REQUIRE_NETNS is set)");
    console.log(`      skipped: ${why}`);
    test.skip();
}
