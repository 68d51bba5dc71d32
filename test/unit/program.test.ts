import * as assert from "node:assert/strict";
import { formerRouterNames } from "../../components/hosts";
import { ProgramRefused, RecordedResource, info, registered, runProgram } from "../support/mocks";

const BASE = { activeColor: "blue", drainToken: "test-token-0123456789" };

function names(resources: RecordedResource[], type: string): string[] {
    return resources
        .filter((r) => r.type === type)
        .map((r) => r.name)
        .sort();
}

/** The engine's marker of a secret value in mocked inputs. */
const SECRET_SIG = "4dabf18193072939515e22adb298388d";

function isSecret(value: unknown): value is { value: unknown } {
    return typeof value === "object" && value !== null && SECRET_SIG in value;
}

function env(resources: RecordedResource[], name: string): Record<string, string> {
    const resource = resources.find((r) => r.name === name);
    assert.ok(resource, `expected a resource named ${name}; have ${resources.map((r) => r.name).join(", ")}`);
    const environment = resource.inputs.environment;
    const sent = (isSecret(environment) ? environment.value : environment) as Record<string, string>;
    // Every variable travels as BLUEGREEN_<NAME>; the scripts see <NAME>.
    for (const name of Object.keys(sent))
        assert.match(name, /^BLUEGREEN_/, `${name} lacks the prefix an SSH server accepts`);
    // Script texts are secrets (to keep them out of preview diffs): read what they hold.
    const plain = (value: unknown) => String(isSecret(value) ? value.value : value);
    return Object.fromEntries(
        Object.entries(sent).map(([name, value]) => [name.replace(/^BLUEGREEN_/, ""), plain(value)]),
    );
}

async function refusal(config: Record<string, string>, previousOutputs?: Record<string, unknown>): Promise<string> {
    try {
        await runProgram(config, { previousOutputs });
    } catch (err) {
        if (err instanceof ProgramRefused) {
            assert.equal(err.exitCode, 32, "a refusal exits the way the Pulumi runtime expects after a user message");
            return err.message;
        }
        throw err;
    }
    assert.fail(`expected the program to refuse ${JSON.stringify(config)}`);
}

describe("the program's resource graph (mocks)", () => {
    it("builds two pools of two hosts, a gate and a router, each host with its drain token", async () => {
        const { resources } = await runProgram(BASE);
        assert.deepEqual(names(resources, "bluegreen:index:Pool"), ["blue", "green"]);
        assert.deepEqual(names(resources, "bluegreen:index:HealthGate"), ["gate"]);
        assert.deepEqual(names(resources, "bluegreen:index:Router"), ["router"]);
        assert.deepEqual(names(resources, "command:local:Command"), [
            "blue-host-1",
            "blue-host-1-token",
            "blue-host-2",
            "blue-host-2-token",
            "gate-check",
            "green-host-1",
            "green-host-1-token",
            "green-host-2",
            "green-host-2-token",
            "router-nginx",
        ]);
    });

    it("the gate checks the pool going live, at its version", async () => {
        const { resources } = await runProgram({ ...BASE, activeColor: "green", greenVersion: "2.0.0" });
        const gate = env(resources, "gate-check");
        assert.equal(gate.POOL_COLOR, "green");
        assert.equal(gate.EXPECT_VERSION, "2.0.0");
        assert.match(gate.HOSTS, /^green-1=127\.0\.0\.1:9201 green-2=127\.0\.0\.1:9202$/);
        // Each host's instance id as its deploy reported it: only that process may pass.
        const id = (name: string) => Buffer.from(name).toString("hex");
        assert.equal(gate.INSTANCES, `green-1=${id("green-host-1")} green-2=${id("green-host-2")}`);
        assert.equal(env(resources, "router-nginx").INSTANCES, gate.INSTANCES, "the switch's own gate too");
    });

    it("switching colour changes only the gate and the router inputs, never a host's", async () => {
        const blue = (await runProgram(BASE)).resources;
        const green = (await runProgram({ ...BASE, activeColor: "green" })).resources;
        const changed = blue
            .filter((r) => r.type === "command:local:Command")
            .filter((r) => JSON.stringify(r.inputs) !== JSON.stringify(green.find((g) => g.name === r.name)?.inputs))
            .map((r) => r.name);
        assert.deepEqual(changed.sort(), ["gate-check", "router-nginx"]);
    });

    it("the rendered nginx config and the live colour are inputs of the router's switch command", async () => {
        const reload = env(
            (await runProgram({ ...BASE, activeColor: "green", switchMode: "reload" })).resources,
            "router-nginx",
        );
        assert.match(reload.NGINX_CONF, /proxy_pass http:\/\/pool_green;/);
        assert.equal(reload.LIVE_COLOR, "green");
        assert.match(reload.NGINX_CONF, new RegExp(`# config-id: ${reload.CONFIG_ID}`));

        const noReloadBlue = env((await runProgram(BASE)).resources, "router-nginx");
        const noReloadGreen = env((await runProgram({ ...BASE, activeColor: "green" })).resources, "router-nginx");
        assert.equal(noReloadGreen.SWITCH_MODE, "no-reload");
        assert.equal(noReloadGreen.NGINX_CONF, noReloadBlue.NGINX_CONF, "in no-reload mode a switch changes no config");
        assert.deepEqual([noReloadBlue.LIVE_COLOR, noReloadGreen.LIVE_COLOR], ["blue", "green"]);
    });

    it("the switch re-checks the pool going live itself, so a retried switch is never ungated", async () => {
        const router = env(
            (await runProgram({ ...BASE, activeColor: "green", greenVersion: "2.0.0" })).resources,
            "router-nginx",
        );
        assert.equal(router.HOSTS, "green-1=127.0.0.1:9201 green-2=127.0.0.1:9202");
        assert.equal(router.EXPECT_VERSION, "2.0.0");
        // Gated unless maintenance is on (then no request reaches the pool; going off is gated).
        assert.match(router.ON_CREATE, /^if \[ "\$maintenance" = on \]; then\n.*\nelse\n {4}run_gate\n/m);
        const update = String(registered.find((r) => r.name === "router-nginx")?.inputs.update);
        assert.match(update, /bash -c "\$\{BLUEGREEN_ON_CREATE:\?/, "an update runs the same script, sent once");
        assert.equal(router.ON_UPDATE, undefined);
    });

    it("a canary gates the idle pool too, and the switch gets its share and the pool's hosts", async () => {
        const { resources } = await runProgram({ ...BASE, greenVersion: "2.0.0", canaryPercent: "10" });
        const router = env(resources, "router-nginx");
        assert.equal(router.CANARY, "green 10");
        assert.equal(router.CANARY_HOSTS, "green-1=127.0.0.1:9201 green-2=127.0.0.1:9202");
        assert.equal(router.CANARY_VERSION, "2.0.0");
        assert.equal(router.LIVE_COLOR, "blue");
        const canaryGate = env(resources, "canary-gate-check");
        assert.equal(canaryGate.POOL_COLOR, "green");
        assert.equal(canaryGate.EXPECT_VERSION, "2.0.0");
        // Without a canary: no second gate, and the switch ends any canary nginx runs.
        const plain = await runProgram(BASE);
        assert.equal(env(plain.resources, "router-nginx").CANARY, "off");
        assert.equal(
            plain.resources.find((r) => r.name === "canary-gate-check"),
            undefined,
            "no canary gate without a canary",
        );
    });

    it("the drain token never appears in a host's deploy command, only in its token writer", async () => {
        const { resources } = await runProgram(BASE);
        for (const r of resources) {
            const text = JSON.stringify(r.inputs);
            if (r.name.endsWith("-token")) continue;
            assert.doesNotMatch(text, /test-token-0123456789/, `${r.type} ${r.name} must not carry the token`);
        }
        const writer = resources.find((r) => r.name === "blue-host-1-token");
        assert.ok(isSecret(writer?.inputs.environment), "the token writer's environment is a Pulumi secret");
        assert.equal(env(resources, "blue-host-1-token").DRAIN_TOKEN, "test-token-0123456789");
    });

    it("ssh hosts whose login is root run apps as bluegreen-app and nginx's workers as bluegreen-nginx", async () => {
        const ssh = {
            ...BASE,
            target: "ssh",
            sshPrivateKey: "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----",
            nginxSshHost: '{"address":"10.0.0.10"}',
            blueSshHosts: '[{"address":"10.0.1.11"}]',
            greenSshHosts: '[{"address":"10.0.2.11","user":"deploy"}]',
            sshUser: "root",
        };
        const { resources } = await runProgram(ssh);
        const blue = env(resources, "blue-host-1");
        assert.equal(blue.APP_USER, "bluegreen-app");
        assert.match(blue.UNIT_TEXT, /^User=bluegreen-app$/m, "the unit runs the app as its own user");
        assert.equal(env(resources, "blue-host-1-token").APP_USER, "bluegreen-app", "who may read the token");
        assert.equal(env(resources, "reach-blue-1").RUN_AS, "bluegreen-app", "the reach check makes the user");
        assert.equal(env(resources, "reach-nginx").RUN_AS, "bluegreen-nginx");
        const router = env(resources, "router-nginx");
        assert.equal(router.NGINX_WORKER_USER, "bluegreen-nginx");
        assert.match(router.NGINX_CONF, /^user bluegreen-nginx bluegreen-nginx;$/m);
        // A login that is not root runs everything as itself: no user to make, no `user` line.
        const green = env(resources, "green-host-1");
        assert.equal(green.APP_USER, "deploy");
        assert.match(green.UNIT_TEXT, /^User=deploy$/m);
        assert.equal(env(resources, "reach-green-1").RUN_AS, undefined);
        const deploy = (await runProgram({ ...ssh, sshUser: "deploy" })).resources;
        assert.equal(env(deploy, "router-nginx").NGINX_WORKER_USER, undefined);
        assert.doesNotMatch(env(deploy, "router-nginx").NGINX_CONF, /^user /m);
        assert.equal(env(deploy, "reach-nginx").RUN_AS, undefined);
    });

    it("several routers: each checked, switched and confirmed, named after their addresses", async () => {
        const ssh = {
            ...BASE,
            target: "ssh",
            sshPrivateKey: "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----",
            nginxSshHosts: '[{"address":"10.0.0.10"},{"address":"10.0.0.11"}]',
            blueSshHosts: '[{"address":"10.0.1.11"}]',
            greenSshHosts: '[{"address":"10.0.2.11"}]',
            sshUser: "deploy",
        };
        const [one, two] = ["nginx-10.0.0.10", "nginx-10.0.0.11"];
        const { resources, outputs } = await runProgram(ssh);
        const commands = names(resources, "command:remote:Command");
        for (const name of [`reach-${one}`, `reach-${two}`, `router-${one}`, `router-${two}`])
            assert.ok(commands.includes(name), `${name} in ${commands.join(", ")}`);
        assert.ok(commands.includes(`router-${one}-confirm`) && commands.includes(`router-${two}-confirm`));
        assert.ok(!commands.includes("router-nginx") && !commands.includes("reach-nginx"), "no single router");
        const [first, second] = [env(resources, `router-${one}`), env(resources, `router-${two}`)];
        assert.equal(first.NGINX_CONF, second.NGINX_CONF, "every router serves the same config");
        assert.deepEqual([first.ROUTER_NAME, second.ROUTER_NAME], [one, two]);
        // Unconfirmed, a router goes back after the slowest other switch could have ended (gate 30 s,
        // verify 15 s, shutdown 35 s, a margin of 30 s): never before.
        assert.equal(first.CONFIRM_SECONDS, String(30 + 15 + 35 + 30));
        assert.equal(first.CONFIRM_SECONDS, second.CONFIRM_SECONDS);
        // A removed host of the live pool is drained at the confirmation: nginx's old workers wait for it
        // (the drain's 35 s, the switch's deadline with a canary counted in: 2 × 30 + 15 + 35 + 120 s,
        // the confirmation's 30 s) before they cut anything.
        assert.match(first.NGINX_CONF, new RegExp(`^worker_shutdown_timeout ${35 + 230 + 30}s;$`, "m"));
        assert.equal(first.SHUTDOWN_TIMEOUT_SECONDS, "35", "a deleted router's nginx stops after an app's bound");
        assert.equal(env(resources, `router-${two}-confirm`).ROUTERS, `${one} ${two}`);
        // Only the first router's switch and confirmation drain the hosts an update removes.
        assert.equal(second.RETIRED_HOSTS ?? "", "");
        // Each router's reach check runs again whenever the switch would: a new colour changes it.
        const green = (await runProgram({ ...ssh, activeColor: "green" })).resources;
        for (const router of [`reach-${one}`, `reach-${two}`])
            assert.notEqual(env(green, router).CHECK_TRIGGER, env(resources, router).CHECK_TRIGGER, router);
        assert.equal(env(green, "reach-blue-1").CHECK_TRIGGER, env(resources, "reach-blue-1").CHECK_TRIGGER);
        assert.deepEqual(outputs.routerLoginAddresses, { [one]: "10.0.0.10", [two]: "10.0.0.11" });
        assert.equal(outputs.nginxLoginAddress, "10.0.0.10");
        // One router: as before, no confirmation.
        const single = await runProgram({ ...ssh, nginxSshHosts: "", nginxSshHost: '{"address":"10.0.0.10"}' });
        const singleCommands = names(single.resources, "command:remote:Command");
        assert.ok(singleCommands.includes("router-nginx"));
        assert.ok(!singleCommands.some((n) => n.endsWith("-confirm")), singleCommands.join(", "));
        assert.equal(env(single.resources, "router-nginx").CONFIRM_SECONDS, undefined);
        // One router drains them once verified (and baked), before its deadline: its old workers wait that long.
        const singleRouter = { ...ssh, nginxSshHosts: "", nginxSshHost: '{"address":"10.0.0.10"}' };
        const singleConf = env(single.resources, "router-nginx").NGINX_CONF;
        assert.match(singleConf, /^worker_shutdown_timeout 265s;$/m);
        const baked = await runProgram({ ...singleRouter, bakeSeconds: "60" });
        assert.match(env(baked.resources, "router-nginx").NGINX_CONF, /^worker_shutdown_timeout 325s;$/m);
        // A canary is set without a reload: turning one on changes no config.
        const canary = await runProgram({ ...singleRouter, canaryPercent: "10" });
        assert.equal(env(canary.resources, "router-nginx").NGINX_CONF, singleConf);
        // Hooks run once per release going live, on one app host, however many routers switch.
        const hooked = await runProgram({ ...ssh, preSwitchCommand: "./migrate", postSwitchCommand: "./notify" });
        const hookCommands = names(hooked.resources, "command:remote:Command").filter((n) => n.endsWith("-hook"));
        assert.deepEqual(hookCommands.sort(), ["post-switch-hook", "pre-switch-hook"]);
        assert.equal(env(hooked.resources, "pre-switch-hook").HOST_NAME, "blue-1");
    });

    it("a router keeps its name's history when routers are added or taken out (aliases by address)", () => {
        const previousTwo = { "nginx-10.0.0.10": "10.0.0.10", "nginx-10.0.0.11": "10.0.0.11" };
        // Taking the first out: the one left (named nginx again) is the one it was, never the other.
        assert.deepEqual(formerRouterNames([{ name: "nginx", address: "10.0.0.11" }], previousTwo), {
            nginx: "nginx-10.0.0.11",
        });
        // Adding a second: the first was the single router.
        assert.deepEqual(
            formerRouterNames(
                [
                    { name: "nginx-10.0.0.10", address: "10.0.0.10" },
                    { name: "nginx-10.0.0.11", address: "10.0.0.11" },
                ],
                { nginx: "10.0.0.10" },
            ),
            { "nginx-10.0.0.10": "nginx" },
        );
        // A third added: nothing renamed.
        assert.deepEqual(
            formerRouterNames(
                [...Object.entries(previousTwo), ["nginx-10.0.0.12", "10.0.0.12"]].map(([name, address]) => ({
                    name,
                    address,
                })),
                previousTwo,
            ),
            {},
        );
        // aws: addresses unknown at preview, routers by zone: the first keeps the single router's name.
        assert.deepEqual(formerRouterNames([{ name: "nginx-1" }, { name: "nginx-2" }], { nginx: undefined }), {
            "nginx-1": "nginx",
        });
        assert.deepEqual(formerRouterNames([{ name: "nginx" }], {}), { nginx: "nginx-1" });
    });

    it("activeColor: purple is refused before any resource is registered", async () => {
        const message = await refusal({ ...BASE, activeColor: "purple" });
        assert.match(message, /bluegreen:activeColor has the invalid value "purple": must be one of blue, green/);
        assert.deepEqual(registered, []);
    });
});

describe("safety rules through the program (mocks)", () => {
    /** As earlier versions recorded it: the live colour inside deployState, no nginx output. */
    const recordedByEarlierVersion = {
        deployState: {
            liveColor: "blue",
            pools: {
                blue: {
                    version: "1.0.0",
                    releaseId: "unused",
                    hosts: { "blue-1": "127.0.0.1:9101", "blue-2": "127.0.0.1:9102" },
                },
                green: {
                    version: "1.0.0",
                    releaseId: "unused",
                    hosts: { "green-1": "127.0.0.1:9201", "green-2": "127.0.0.1:9202" },
                },
            },
        },
    };

    async function withReleaseIds(config: Record<string, string>) {
        // The release ids the program computes for the default artifact at 1.0.0.
        const { outputs } = await runProgram(config);
        return { activeColor: "blue", deployState: outputs.deployState, nginx: outputs.nginx };
    }

    it("hooks: only when configured, on the first host of the pool going live, when a release goes live", async () => {
        assert.deepEqual(
            (await runProgram(BASE)).resources.filter((r) => /hook/.test(r.name)),
            [],
            "no hook configured, no hook resource",
        );
        const hooks = {
            preSwitchCommand: "node migrate.js",
            postSwitchCommand: "./notify.sh",
            hookTimeoutSeconds: "90",
        };
        const first = await runProgram({ ...BASE, ...hooks });
        const pre = env(first.resources, "pre-switch-hook");
        assert.equal(pre.HOST_NAME, "blue-1");
        assert.equal(pre.HOOK_COMMAND, "node migrate.js");
        assert.equal(pre.HOOK_FAILURE, "fail");
        assert.equal(pre.HOOK_TIMEOUT_SECONDS, "90");
        assert.equal(pre.GOING_LIVE, "true", "a stack's first update makes its release live");
        assert.equal(env(first.resources, "post-switch-hook").HOOK_FAILURE, "warn");
        const triggers = first.resources.find((r) => r.name === "pre-switch-hook")?.inputs.triggers;
        assert.deepEqual(triggers, ["blue", pre.RELEASE_ID, "node migrate.js"], "a new release going live runs it");

        const previous = { activeColor: "blue", deployState: first.outputs.deployState, nginx: first.outputs.nginx };
        const same = await runProgram({ ...BASE, ...hooks }, { previousOutputs: previous });
        assert.equal(env(same.resources, "pre-switch-hook").GOING_LIVE, "false", "blue was live already");
        const green = await runProgram({ ...BASE, ...hooks, activeColor: "green" }, { previousOutputs: previous });
        const switching = env(green.resources, "pre-switch-hook");
        assert.deepEqual(
            [switching.HOST_NAME, switching.GOING_LIVE, switching.PREVIOUS_COLOR, switching.PREVIOUS_VERSION],
            ["green-1", "true", "blue", "1.0.0"],
        );
    });

    it("hosts an update removes are named to the switch, with the drain token, to drain after its reload", async () => {
        const first = await runProgram(BASE);
        assert.equal(env(first.resources, "router-nginx").RETIRED_HOSTS, undefined, "nothing removed");
        const previous = { activeColor: "blue", deployState: first.outputs.deployState, nginx: first.outputs.nginx };
        const shrunk = await runProgram({ ...BASE, greenHosts: "0", blueHosts: "1" }, { previousOutputs: previous });
        const router = env(shrunk.resources, "router-nginx");
        assert.equal(router.RETIRED_HOSTS, "blue-2=127.0.0.1:9102 green-1=127.0.0.1:9201 green-2=127.0.0.1:9202");
        assert.equal(router.DRAIN_TOKEN, BASE.drainToken);
        const environment = shrunk.resources.find((r) => r.name === "router-nginx")?.inputs.environment;
        const token = isSecret(environment)
            ? undefined
            : (environment as Record<string, unknown>).BLUEGREEN_DRAIN_TOKEN;
        assert.ok(isSecret(environment) || isSecret(token), "the token is a secret in the state");
    });

    it("refuses a new version on the live pool, saying to deploy to the idle pool and switch", async () => {
        const prev = await withReleaseIds(BASE);
        const message = await refusal({ ...BASE, blueVersion: "1.1.0" }, prev);
        assert.match(
            message,
            /blueVersion changes the blue release from 1\.0\.0 to 1\.1\.0, but blue is the live pool/,
        );
        assert.match(
            message,
            new RegExp(
                "pulumi config set greenVersion 1\\.1\\.0 && pulumi up; " +
                    "then switch: pulumi config set activeColor green && pulumi up",
            ),
        );
        assert.deepEqual(registered, [], "nothing is registered, so nothing changes");
    });

    it("refuses switching away and redeploying the old live pool in the same update", async () => {
        const prev = await withReleaseIds(BASE);
        const message = await refusal({ ...BASE, activeColor: "green", blueVersion: "1.1.0" }, prev);
        assert.match(message, /but blue is the live pool/);
    });

    it("allows a new version on the idle pool together with the switch to it", async () => {
        const prev = await withReleaseIds(BASE);
        const { outputs } = await runProgram(
            { ...BASE, activeColor: "green", greenVersion: "1.1.0" },
            { previousOutputs: prev },
        );
        // Nothing listens on the internal port here, so the program sees nginx stopped.
        assert.equal(info.length, 1);
        assert.match(info[0], /^Plan: traffic blue \(1\.0\.0\) -> green \(1\.1\.0\), gated on green-1, green-2; /);
        assert.match(info[0], /; green redeployed 1\.0\.0 -> 1\.1\.0 on green-1, green-2; /);
        assert.match(info[0], /; nginx starts with config [0-9a-f]{16}$/);
        assert.equal(outputs.activeColor, "green");
        assert.equal(outputs.liveVersion, "1.1.0");
        assert.equal(outputs.standbyVersion, "1.0.0");
    });

    it("records the live colour only in activeColor (a switch leaves deployState alone), reads it there", async () => {
        const blue = (await runProgram(BASE)).outputs;
        const green = (await runProgram({ ...BASE, activeColor: "green" })).outputs;
        assert.deepEqual(Object.keys(blue.deployState as object), ["pools"]);
        assert.deepEqual(green.deployState, blue.deployState, "a switch leaves the recorded pools as they were");
        assert.deepEqual(green.nginx, blue.nginx, "in no-reload mode a switch changes no nginx config");
        assert.match(String((blue.nginx as Record<string, string>).configId), /^[0-9a-f]{16}$/);
        const message = await refusal(
            { ...BASE, activeColor: "green", greenVersion: "1.1.0" },
            { activeColor: "green", deployState: green.deployState, nginx: green.nginx },
        );
        assert.match(
            message,
            /greenVersion changes the green release from 1\.0\.0 to 1\.1\.0, but green is the live pool/,
        );
    });

    it("reads a state an earlier version recorded (the live colour inside deployState)", async () => {
        const message = await refusal(
            { ...BASE, activeColor: "green", blueVersion: "1.1.0" },
            recordedByEarlierVersion,
        );
        assert.match(
            message,
            /blueVersion changes the blue release from 1\.0\.0 to 1\.1\.0, but blue is the live pool/,
        );
    });

    it("fails closed when the recorded deployState cannot be read: nothing would protect the live pool", async () => {
        for (const garbage of ["not json", { liveColor: "purple" }, { pools: {} }]) {
            const message = await refusal(BASE, { deployState: garbage });
            assert.match(
                message,
                new RegExp(
                    "the stack's deployState output \\(what the last update deployed\\) cannot be read, " +
                        "so the safety rules cannot be checked\\. Fix: ",
                ),
            );
        }
    });

    it("refuses a switch to a pool with no hosts", async () => {
        const message = await refusal({ ...BASE, activeColor: "green", greenHosts: "0" });
        assert.match(message, /activeColor is green, but the green pool has no hosts \(greenHosts is 0\)/);
    });

    it("refuses moving the live pool's hosts to other ports", async () => {
        const prev = await withReleaseIds(BASE);
        const message = await refusal({ ...BASE, appBasePort: "9500" }, prev);
        assert.match(
            message,
            /blue-1 would move from 127\.0\.0\.1:9101 to 127\.0\.0\.1:9501, but blue is the live pool/,
        );
    });
});
