// The toolchain's versions are pinned in scripts/toolchain/versions.env; the Go wrapper modules
// beside it must build exactly those versions, and the command plugin must be the one the
// installed @pulumi/command asks for. A bump of one without the others fails here.
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";

const TOOLCHAIN = path.join(__dirname, "..", "..", "scripts", "toolchain");

function pinned(): Record<string, string> {
    const text = fs.readFileSync(path.join(TOOLCHAIN, "versions.env"), "utf8");
    return Object.fromEntries([...text.matchAll(/^([A-Z_]+)=(\S+)$/gm)].map((m) => [m[1], m[2]]));
}

/** The version a go.mod requires of `module` (direct or indirect). */
function required(goMod: string, module: string): string | undefined {
    const text = fs.readFileSync(path.join(TOOLCHAIN, goMod), "utf8");
    return new RegExp(`^\\s*(?:require\\s+)?${module.replace(/[/.]/g, "\\$&")} (v\\S+)`, "m").exec(text)?.[1];
}

describe("toolchain versions", () => {
    it("the Pulumi CLI module builds the version versions.env pins", () => {
        assert.equal(required("pulumi/go.mod", "github.com/pulumi/pulumi/pkg/v3"), `v${pinned().PULUMI_VERSION}`);
    });

    it("the language host is built against the pkg and sdk version it is stamped with", () => {
        const stamp = `v${pinned().LANGUAGE_HOST_VERSION}`;
        assert.equal(required("language-nodejs/go.mod", "github.com/pulumi/pulumi/pkg/v3"), stamp);
        assert.equal(required("language-nodejs/go.mod", "github.com/pulumi/pulumi/sdk/v3"), stamp);
    });

    it("the minimum accepted CLI is not newer than the one the bootstrap builds", () => {
        const { PULUMI_MIN_VERSION, PULUMI_VERSION } = pinned();
        const parts = (v: string) => v.split(".").map(Number);
        const [min, built] = [parts(PULUMI_MIN_VERSION), parts(PULUMI_VERSION)];
        const cmp = min[0] - built[0] || min[1] - built[1] || min[2] - built[2];
        assert.ok(cmp <= 0, `PULUMI_MIN_VERSION ${PULUMI_MIN_VERSION} is above PULUMI_VERSION ${PULUMI_VERSION}`);
    });
});
