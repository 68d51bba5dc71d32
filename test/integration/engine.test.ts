import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { REPO_ROOT, TestStack, createTestStack } from "../../scripts/lib/pulumi";

describe("the Pulumi engine on this machine (CLI + Node.js language host + command plugin)", function () {
    let test: TestStack;
    let outFile: string;

    before(async () => {
        test = await createTestStack({
            sourceDir: path.join(REPO_ROOT, "test", "fixtures", "engine-check"),
            copy: ["Pulumi.yaml", "index.js"],
            config: { message: "first" },
        });
        outFile = path.join(test.dir, "marker.txt");
        await test.stack.setConfig("outFile", { value: outFile });
    });

    after(async () => {
        await test?.dispose();
    });

    it("pulumi up runs a command.local.Command whose effect is on disk", async () => {
        const result = await test.stack.up({ onOutput: () => undefined });
        assert.equal(result.summary.result, "succeeded");
        assert.equal(result.summary.resourceChanges?.create, 2, "stack + marker created");
        assert.equal(fs.readFileSync(outFile, "utf8"), "first");
        assert.equal(result.outputs.stdout.value, `wrote ${outFile}`);
    });

    it("pulumi preview after up reports no changes", async () => {
        const preview = await test.stack.preview({ onOutput: () => undefined });
        assert.deepEqual(preview.changeSummary, { same: 2 });
    });

    it("a changed input updates the command, and preview --diff shows the new value", async () => {
        await test.stack.setConfig("message", { value: "second" });
        const preview = await test.stack.preview({ diff: true, onOutput: () => undefined });
        assert.equal(preview.changeSummary.update, 1);
        assert.match(preview.stdout, /MESSAGE\s*:\s*"first" => "second"/);
        await test.stack.up({ onOutput: () => undefined });
        assert.equal(fs.readFileSync(outFile, "utf8"), "second");
    });

    it("pulumi destroy runs the delete command", async () => {
        const result = await test.stack.destroy({ onOutput: () => undefined });
        assert.equal(result.summary.result, "succeeded");
        assert.equal(fs.existsSync(outFile), false, `${outFile} should be removed by the delete command`);
    });
});
