#!/usr/bin/env bash
# Packs GroundSharp (library) and groundsharp (.NET tool) into a local folder, installs the tool from it into a
# temporary tool path and grounds the fixture image with it, then builds and runs samples/GroundFixture — a
# console project outside the repository that references the package from that folder — on the same image, and
# checks both give the same point. .ci/run calls it after the tests; docs/packages.md.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
work=$(mktemp -d)
version="0.1.0-check.$(date +%s)"
cleanup() {
  rm -rf "$work" "$HOME/.nuget/packages/groundsharp/$version" "$HOME/.nuget/packages/groundsharp.cli/$version"
}
trap cleanup EXIT
fixture="$repo/tests/GroundSharp.Tests/Fixtures/albef-tiny-A"
ground_args=(--checkpoint "$fixture/checkpoint.pth" --config "$fixture/cli/groundsharp-config.json" --vocab "$fixture/cli/vocab.txt")
image="$fixture/cli/image_0_256.png"
phrase="qdwt qdaq"

echo "== pack $version"
dotnet pack src/GroundSharp -c Release -o "$work/packages" -p:Version="$version" -v quiet -nologo
dotnet pack src/GroundSharp.Cli -c Release -o "$work/packages" -p:Version="$version" -v quiet -nologo
ls -l "$work/packages"

echo "== install the tool from the local folder"
dotnet tool install --tool-path "$work/tools" --add-source "$work/packages" GroundSharp.Cli --version "$version"
"$work/tools/groundsharp" --version
"$work/tools/groundsharp" ground "${ground_args[@]}" --image "$image" --text "$phrase" --out "$work/ground"
tool_point=$(tr -d ' \n' < "$work/ground/results.json" | grep -o '"point":\[[0-9]*,[0-9]*\]' | head -1 | grep -o '[0-9]*,[0-9]*')

echo "== a console project referencing the package"
cp -r samples/GroundFixture "$work/sample"
cp nuget.config "$work/sample/"
dotnet run --project "$work/sample" -c Release -p:GroundSharpVersion="$version" -p:RestoreAdditionalProjectSources="$work/packages" \
  -p:CreateHardLinksForCopyLocalIfPossible=true -- "$fixture/checkpoint.pth" "$image" "$phrase" \
  --config "$fixture/cli/groundsharp-config.json" --vocab "$fixture/cli/vocab.txt" | tee "$work/sample.txt"
sample_point=$(cut -f2 "$work/sample.txt" | head -1)

if [ -z "$tool_point" ] || [ "$tool_point" != "$sample_point" ]; then
  echo "packages: FAILED — the tool's point ($tool_point) and the sample's ($sample_point) differ"
  exit 1
fi
echo "packages: OK — tool and sample project both point at ($tool_point)"
