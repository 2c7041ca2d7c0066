using System.CommandLine;
using System.Globalization;
using GroundSharp.Data.VisualGenome;

namespace GroundSharp.Cli.Commands;

/// <summary>
/// <c>groundsharp prepare-vg</c>: Visual Genome objects, attributes and region descriptions → (image, phrase,
/// box) triplets as GroundingSample JSON lines (rules in docs/formats.md). Progress goes to stderr, the
/// summary to stdout.
/// </summary>
public static class PrepareVgCommand
{
    public static Command Build()
    {
        var vg = new Option<string>("--vg") { Description = "Visual Genome folder with image_data.json, objects.json, attributes.json, region_descriptions.json", Required = true };
        var output = new Option<string>("--out") { Description = "output JSON-lines file (written atomically)", Required = true };
        var minArea = new Option<double>("--min-area-fraction") { Description = "drop boxes smaller than this fraction of the image area (the paper's value is lost; 0.01 by default)", DefaultValueFactory = _ => 0.01 };
        var exclude = new Option<string?>("--exclude") { Description = "text file of image ids to leave out, one a line (e.g. images overlapping a test set)" };
        var maxImages = new Option<int?>("--max-images") { Description = "stop after this many (not excluded) images" };
        var cmd = new Command("prepare-vg", "Build grounding triplets (image, phrase, box) from Visual Genome annotations.")
        {
            vg, output, minArea, exclude, maxImages,
        };
        cmd.SetAction(r => CliRunner.Run(() => Execute(r.GetValue(vg)!, r.GetValue(output)!, r.GetValue(minArea), r.GetValue(exclude), r.GetValue(maxImages)), usesTorch: false));
        return cmd;
    }

    public static int Execute(string vgDirectory, string outputPath, double minAreaFraction, string? excludePath, int? maxImages)
    {
        var options = new VgTripletOptions
        {
            MinAreaFraction = minAreaFraction,
            ExcludedImageIds = excludePath is null ? null : VgTripletFile.ReadImageIdList(excludePath),
            MaxImages = maxImages,
        };
        var stats = VgTripletFile.Write(vgDirectory, outputPath, options, p =>
            Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"prepare-vg: {p.ImagesRead} images, {p.Triplets} triplets, {p.ImagesPerSecond:F0} images/s")));

        var inv = CultureInfo.InvariantCulture;
        Console.WriteLine(string.Create(inv, $"wrote {stats.Triplets} triplets to {outputPath}"));
        Console.WriteLine(string.Create(inv, $"images: {stats.ImagesRead} read, {stats.ImagesUsed} used, {stats.ImagesExcluded} excluded, {stats.ImagesWithoutTriplets} without triplets"));
        foreach (var source in new[] { VgTripletBuilder.SourceAttribute, VgTripletBuilder.SourceObject, VgTripletBuilder.SourceSpatial, VgTripletBuilder.SourceRegion })
            Console.WriteLine(string.Create(inv, $"  {source,-10} {stats.TripletsBySource.GetValueOrDefault(source)}"));
        Console.WriteLine(string.Create(inv, $"dropped: {stats.DuplicatesDropped} duplicate (phrase, box) pairs"));
        foreach (var (reason, count) in stats.BoxesDropped)
            Console.WriteLine(string.Create(inv, $"  {count} boxes: {reason}"));
        return 0;
    }
}
