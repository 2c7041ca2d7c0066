using System.CommandLine;
using System.Globalization;
using GroundSharp.Data.Benchmarks;

namespace GroundSharp.Cli.Commands;

/// <summary>
/// <c>groundsharp prepare-refcoco</c>: the REFER toolkit's <c>refs(*).p</c> and <c>instances.json</c> → the
/// RefCOCO-family folder that <c>eval</c> and <c>train-rec</c> read (docs/formats.md).
/// </summary>
public static class PrepareRefcocoCommand
{
    public static Command Build()
    {
        var refs = new Option<string>("--refs") { Description = "the REFER pickle: refs(unc).p (RefCOCO, RefCOCO+), refs(umd).p or refs(google).p (RefCOCOg), refs(berkeley).p or refs(unc).p (RefCLEF)", Required = true };
        var instances = new Option<string?>("--instances") { Description = "the dataset's instances.json (default: next to --refs)" };
        var dataset = new Option<string?>("--dataset") { Description = "refcoco, refcoco+, refcocog or refclef (default: the name of --refs' folder)" };
        var output = new Option<string>("--out") { Description = "output folder: refs.json and <dataset>_{train,val,test}.json", Required = true };
        var cmd = new Command("prepare-refcoco", "Build the RefCOCO / RefCOCO+ / RefCOCOg / RefCLEF files that eval and train-rec read from the REFER toolkit's refs pickle and instances.json.")
        {
            refs, instances, dataset, output,
        };
        cmd.SetAction(r => CliRunner.Run(() => Execute(r.GetValue(refs)!, r.GetValue(instances), r.GetValue(dataset), r.GetValue(output)!), usesTorch: false));
        return cmd;
    }

    public static int Execute(string refsPath, string? instancesPath, string? dataset, string outDir)
    {
        instancesPath ??= Path.Combine(Path.GetDirectoryName(Path.GetFullPath(refsPath))!, "instances.json");
        // The REFER toolkit keeps each dataset in a folder of its name (data/refcoco+/refs(unc).p).
        dataset ??= Path.GetFileName(Path.GetDirectoryName(Path.GetFullPath(refsPath)))!.ToLowerInvariant();
        if (!ReferPreparation.Datasets.Contains(dataset))
            throw new GroundSharpException($"cannot tell the dataset from '{refsPath}' ('{dataset}' is not one of {string.Join(", ", ReferPreparation.Datasets)}); pass --dataset");
        var result = ReferPreparation.Prepare(refsPath, instancesPath, dataset, outDir);
        var inv = CultureInfo.InvariantCulture;
        Console.WriteLine(string.Create(inv, $"{result.Dataset}: {result.Refs} refs on {result.Images} images"));
        foreach (var (split, count) in result.ExpressionsPerSplit)
            Console.WriteLine(string.Create(inv, $"  {split,-6} {count} expressions"));
        foreach (var file in result.Files) Console.WriteLine($"wrote {file}");
        Console.WriteLine($"images are read from {Path.Combine(outDir, "images")} unless --image-root says otherwise (a link to COCO's train2014 folder, or saiapr_tc-12's images for RefCLEF)");
        return 0;
    }
}
