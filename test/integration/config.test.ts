import * as assert from "node:assert/strict";
import { PROGRAM_FILES, REPO_ROOT, TestStack, createTestStack } from "../../scripts/lib/pulumi";

describe("config validation through a real pulumi preview", function () {
    let test: TestStack;

    before(async () => {
        test = await createTestStack({
            sourceDir: REPO_ROOT,
            copy: PROGRAM_FILES,
            config: { activeColor: "purple" },
        });
        await test.stack.setConfig("drainToken", { value: "test-token-0123456789", secret: true });
    });

    after(async () => {
        await test?.dispose();
    });

    it("activeColor: purple fails preview, naming the key, the value and the allowed values", async () => {
        let output = "";
        await assert.rejects(test.stack.preview({ onOutput: (text) => (output += text) }));
        assert.match(output, /bluegreen:activeColor has the invalid value "purple": must be one of blue, green/);
        assert.match(output, /Fix: pulumi config set activeColor blue/);
        assert.doesNotMatch(output, /at .*\.ts:\d+/, "a config error is a message, not a stack trace");
    });

    it("several bad keys are reported together, and the secret token is never echoed", async () => {
        await test.stack.setConfig("publicPort", { value: "80;" });
        await test.stack.setConfig("drainToken", { value: "short$(id)", secret: true });
        let output = "";
        await assert.rejects(test.stack.preview({ onOutput: (text) => (output += text) }));
        assert.match(output, /config problems/);
        assert.match(
            output,
            /bluegreen:publicPort has the invalid value "80;": must be a whole number from 1 to 65535/,
        );
        assert.match(output, /bluegreen:drainToken has the invalid value \(secret, not shown\)/);
        assert.doesNotMatch(output, /short\$\(id\)/);
    });
});
