using System.Diagnostics;
using System.Globalization;
using System.Text;
using GroundSharp.IO;

namespace GroundSharp.Data.VisualGenome;

/// <summary>Progress of <see cref="VgTripletFile.Write"/>: images read so far, triplets written, elapsed time.</summary>
public readonly record struct VgProgress(int ImagesRead, long Triplets, TimeSpan Elapsed)
{
    public double ImagesPerSecond => Elapsed.TotalSeconds > 0 ? ImagesRead / Elapsed.TotalSeconds : 0;
}

/// <summary>
/// <c>prepare-vg</c> as a library call: streams a VG folder, builds triplets (<see cref="VgTripletBuilder"/>)
/// and writes them as GroundingSample JSON lines (docs/formats.md), atomically (temp file + rename).
/// </summary>
public static class VgTripletFile
{
    public static VgTripletStats Write(string vgDirectory, string outputPath, VgTripletOptions options,
        Action<VgProgress>? progress = null, TimeSpan? progressInterval = null)
    {
        if (options.MinAreaFraction is < 0 or >= 1 || double.IsNaN(options.MinAreaFraction))
            throw new GroundSharpException($"min area fraction must be in [0, 1); got {options.MinAreaFraction.ToString(CultureInfo.InvariantCulture)}");
        if (options.MaxImages is < 1) throw new GroundSharpException($"max images must be >= 1; got {options.MaxImages}");
        var stats = new VgTripletStats();
        var interval = progressInterval ?? TimeSpan.FromSeconds(2);
        using var reader = new VisualGenomeReader(vgDirectory);
        AtomicFile.Write(outputPath, stream =>
        {
            using var writer = new StreamWriter(stream, new UTF8Encoding(false), 1 << 16, leaveOpen: true) { NewLine = "\n" };
            var clock = Stopwatch.StartNew();
            var lastReport = TimeSpan.Zero;
            int taken = 0;
            foreach (var image in reader.ReadImages())
            {
                stats.ImagesRead++;
                if (options.ExcludedImageIds?.Contains(image.Image.ImageId) == true)
                {
                    stats.ImagesExcluded++;
                    continue;
                }
                var triplets = VgTripletBuilder.Build(image, options, stats);
                if (triplets.Count > 0) stats.ImagesUsed++;
                else stats.ImagesWithoutTriplets++;
                foreach (var t in triplets) writer.WriteLine(GroundingSampleFile.ToJsonLine(t));
                if (progress is not null && clock.Elapsed - lastReport >= interval)
                {
                    lastReport = clock.Elapsed;
                    progress(new VgProgress(stats.ImagesRead, stats.Triplets, clock.Elapsed));
                }
                if (++taken == options.MaxImages) break;
            }
            writer.Flush();
            progress?.Invoke(new VgProgress(stats.ImagesRead, stats.Triplets, clock.Elapsed));
        });
        return stats;
    }

    /// <summary>
    /// Reads an exclusion list: one image id a line; blank lines and text after '#' are ignored. Errors name
    /// the file and line.
    /// </summary>
    public static HashSet<long> ReadImageIdList(string path)
    {
        if (!File.Exists(path)) throw new GroundSharpException($"image id list not found: {path}");
        var ids = new HashSet<long>();
        int lineNo = 0;
        foreach (var raw in File.ReadLines(path))
        {
            lineNo++;
            int hash = raw.IndexOf('#');
            string line = (hash >= 0 ? raw[..hash] : raw).Trim();
            if (line.Length == 0) continue;
            if (!long.TryParse(line, NumberStyles.Integer, CultureInfo.InvariantCulture, out long id))
                throw new GroundSharpException($"{path}:{lineNo}: '{line}' is not an image id (one integer a line)");
            ids.Add(id);
        }
        return ids;
    }
}
