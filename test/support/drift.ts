// What both targets' tests check after a colour was set by hand on nginx, with the control token.
import * as assert from "node:assert/strict";
import type { Stack } from "@pulumi/pulumi/automation";

/**
 * The preview reports the drift, and up puts `live` back through the gate, taking the control
 * token back with one reload (the hand-set request used it). `served` is the colour clients get.
 */
export async function assertDriftPutBack(
    stack: Stack,
    live: string,
    idle: string,
    served: () => Promise<string>,
): Promise<void> {
    let previewOutput = "";
    await stack.preview({ onOutput: (t) => (previewOutput += t) });
    const drift = new RegExp(`nginx serves ${idle} with config \\w+, the stack wants ${live} with`);
    assert.match(previewOutput, drift, "the preview asked nginx and reports the hand-set colour as drift");
    let upOutput = "";
    const up = await stack.up({ onOutput: (t) => (upOutput += t) });
    assert.equal(up.summary.result, "succeeded");
    assert.match(upOutput, new RegExp(`Reconciling: ${drift.source}`));
    assert.match(upOutput, /nginx refused this host's control token/);
    assert.ok(
        upOutput.indexOf(`Gate passed: all 2 ${live} host(s) ready`) < upOutput.indexOf(`Switched: ${live} is live`),
        "the colour went back through the gate",
    );
    assert.equal(await served(), live);
}
