// The routers' keepalived config (virtualIp), rendered as the program renders it and checked by
// keepalived's own parser (`keepalived --config-test`), with peers and for a router left alone.
import * as assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { render } from "../../components/templates";

function rendered(peers: string[]): string {
    return render("keepalived/keepalived.conf.hbs", {
        routerName: "nginx-10.0.0.10",
        virtualAddress: "10.0.0.100",
        prefixLength: 24,
        interface: "eth0",
        virtualRouterId: 51,
        priority: 150,
        sourceAddress: "10.0.0.10",
        peers,
        curl: "/usr/bin/curl",
        checkUrl: "http://127.0.0.1:8081/bluegreen/live",
    });
}

function configTest(text: string): { status: number | null; output: string } {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "keepalived-"));
    const file = path.join(dir, "keepalived.conf");
    fs.writeFileSync(file, text);
    const result = spawnSync("keepalived", ["--config-test", `--use-file=${file}`], { encoding: "utf8" });
    fs.rmSync(dir, { recursive: true, force: true });
    return { status: result.status, output: `${result.stdout}${result.stderr}`.trim() };
}

describe("keepalived config of the routers' floating address", () => {
    before(function () {
        if (spawnSync("keepalived", ["--version"]).error) {
            throw new Error("keepalived is missing: apt-get install keepalived (scripts/test-packages.sh installs it)");
        }
    });

    it("passes keepalived --config-test with peers, and for one router alone", () => {
        for (const peers of [["10.0.0.11", "10.0.0.12"], []]) {
            const result = configTest(rendered(peers));
            assert.equal(result.status, 0, `peers ${peers.join(",") || "none"}: ${result.output}`);
        }
    });

    it("a broken config is reported (the check can fail)", () => {
        const result = configTest(rendered(["10.0.0.11"]).replace("virtual_router_id 51", "virtual_router_id 999"));
        assert.notEqual(result.status, 0, result.output);
    });

    it("unicast to the listed peers only, nginx's internal listener tracked, the address not taken back", () => {
        const text = rendered(["10.0.0.11"]);
        assert.match(
            text,
            /unicast_src_ip 10\.0\.0\.10\n\s+unicast_peer \{\n\s+10\.0\.0\.11\n\s+\}\n\s+check_unicast_src/,
        );
        assert.match(text, /script "\/usr\/bin\/curl .* http:\/\/127\.0\.0\.1:8081\/bluegreen\/live"/);
        assert.match(text, /^\s+nopreempt$/m);
        assert.match(text, /^\s+10\.0\.0\.100\/24 dev eth0$/m);
        assert.doesNotMatch(rendered([]), /unicast_peer/, "alone: no peers to list");
    });
});
