// The CI workflow files, checked by a real linter (actionlint, built from Go modules).
import * as assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";

const ROOT = path.resolve(__dirname, "..", "..");

describe("GitHub Actions workflows", function () {
    let actionlint: string;

    before(() => {
        actionlint = execFileSync("bash", [path.join(ROOT, "scripts", "toolchain", "actionlint.sh")], {
            encoding: "utf8",
        }).trim();
    });

    it("pass actionlint", () => {
        const result = spawnSync(actionlint, ["-color=false"], { cwd: ROOT, encoding: "utf8" });
        assert.equal(result.status, 0, `actionlint found problems:\n${result.stdout}${result.stderr}`);
    });

    it("actionlint really reports a broken workflow (the check can fail)", () => {
        const broken = path.join(ROOT, ".state", "broken-workflow.yml");
        fs.mkdirSync(path.dirname(broken), { recursive: true });
        fs.writeFileSync(
            broken,
            "on: push\njobs:\n  x:\n    runs-on: ubuntu-latest\n    steps:\n" +
                "      - run: echo ${{ secrets }}\n        uses: actions/checkout@v4\n",
        );
        try {
            const result = spawnSync(actionlint, ["-color=false", broken], { cwd: ROOT, encoding: "utf8" });
            assert.notEqual(result.status, 0);
        } finally {
            fs.rmSync(broken, { force: true });
        }
    });

    it("hold no secret values, only references to repository secrets", () => {
        const text = fs.readFileSync(path.join(ROOT, ".github", "workflows", "deploy.yml"), "utf8");
        for (const line of text.split("\n").filter((l) => /(TOKEN|PASSPHRASE|SECRET|WEBHOOK_URL)\s*:/.test(l))) {
            assert.match(
                line,
                /\$\{\{ (secrets|vars)\.[A-Z_]+ \}\}|\$\{\{ github\./,
                `a secret must come from secrets.*: ${line.trim()}`,
            );
        }
    });
});
