#!/usr/bin/env bash
# The CDK app's checks, offline: its npm packages (cdk/package-lock.json), `tsc --noEmit`, `cdk
# synth` of each stage (cdk-nag's AwsSolutions checks run in it: a finding not acknowledged with
# its reason fails the synthesis), cfn-lint on every template, and the assertion tests. The
# synthesized app is deployed to ministack by scripts/aws-e2e.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
target=$(scripts/target-dir)
venv="$target/tools/cfn-lint"
export CDK_DISABLE_VERSION_CHECK=1 CDK_DISABLE_CLI_TELEMETRY=1

npm ci --no-audit --no-fund --loglevel=error --prefix cdk
source scripts/venv.sh
venv_with "$venv" "cfn-lint==1.58.0"

cd cdk
npx tsc --noEmit

# The arm64 release zips when scripts/lambda-zips.sh built them; a placeholder otherwise, which
# the synthesis names in its output.
zips="$target/lambda/arm64"
[ -f "$zips/worker/bootstrap.zip" ] && code=(--context "lambdaZips=$zips") || code=()
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for stage in dev prod; do
  npx cdk synth --quiet --context "stage=$stage" "${code[@]}" --output "$out/$stage"
  echo "synthesized $stage: $(ls "$out/$stage"/*.template.json | xargs -n1 basename | tr '\n' ' ')"
done

# W3005: CDK makes a function depend on its role's policy as well as on the role, on purpose (the
# function must not run before it may reach anything). W3045: S3's server access logging still
# needs the log bucket's AccessControl (LogDeliveryWrite), which CDK sets.
"$venv/bin/cfn-lint" --ignore-checks W3005 W3045 -- "$out"/*/*.template.json
echo "cfn-lint: no findings"

node --import tsx --test --test-reporter=spec test/*.test.ts
