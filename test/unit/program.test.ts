import * as assert from "node:assert/strict";
import * as pulumi from "@pulumi/pulumi";
import { registered, runProgram } from "../support/mocks";

describe("the program under mocks", () => {
    it("exports the validated active colour and target", async () => {
        const { outputs } = await runProgram({ activeColor: "green", drainToken: "test-token-0123456789" });
        assert.equal(outputs.activeColor, "green");
        assert.equal(outputs.target, "local");
    });

    it("fails with a RunError naming the key before any resource is registered when activeColor is purple", async () => {
        await assert.rejects(
            () => runProgram({ activeColor: "purple", drainToken: "test-token-0123456789" }),
            (err: unknown) => {
                assert.ok(err instanceof pulumi.RunError, `expected RunError, got ${String(err)}`);
                assert.match((err as Error).message, /bluegreen:activeColor has the invalid value "purple": must be one of blue, green/);
                return true;
            },
        );
        assert.deepEqual(registered, [], "the program must not get as far as registering resources");
    });
});
