using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;
using GroundSharp.Eval;
using GroundSharp.IO;

namespace GroundSharp.Data.Benchmarks;

/// <summary>What <see cref="ReferPreparation.Prepare"/> wrote: counts per split and the files.</summary>
public sealed record ReferPreparationResult(string Dataset, int Refs, int Images, IReadOnlyDictionary<string, int> ExpressionsPerSplit, IReadOnlyList<string> Files);

/// <summary>
/// Builds the RefCOCO-family layout that <c>eval</c> and <c>train-rec</c> read (docs/formats.md) from the REFER
/// toolkit's original files: <c>refs(unc).p</c> / <c>refs(umd).p</c> / <c>refs(google).p</c> /
/// <c>refs(berkeley).p</c> (Python pickles, read as data: no global is allowed, nothing is run) and the dataset's
/// COCO-style <c>instances.json</c>. Writes <c>refs.json</c> (the images, categories and refs with their boxes)
/// and one grounding file per split group, <c>&lt;dataset&gt;_train.json</c>, <c>_val.json</c> and
/// <c>_test.json</c> (testA, testB and testC go in the test file, as in ALBEF's files), one entry per sentence.
/// Everything is checked before anything is written, and every file is written atomically.
/// </summary>
public static class ReferPreparation
{
    public static readonly IReadOnlyList<string> Datasets = ["refcoco", "refcoco+", "refcocog", "refclef"];

    // Readable text (é, +) in the files; they are data for our readers, never embedded in HTML.
    private static readonly JsonSerializerOptions FileJson = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private sealed record Ref(long RefId, long AnnId, long ImageId, string Split, long? CategoryId, List<string> Sentences, string Where);

    private sealed record Annotation(long ImageId, JsonElement Bbox, long? CategoryId);

    public static ReferPreparationResult Prepare(string refsPickle, string instancesJson, string dataset, string outDir)
    {
        if (!Datasets.Contains(dataset))
            throw new GroundSharpException($"unknown REFER dataset '{dataset}' (one of {string.Join(", ", Datasets)})");
        var refs = ReadRefs(refsPickle);
        using var instances = Json.ParseFile(instancesJson);
        var root = instances.RootElement;
        if (root.ValueKind != JsonValueKind.Object)
            throw new GroundSharpException($"{instancesJson}: the top level must be an object with \"images\" and \"annotations\"");

        var images = new Dictionary<long, JsonElement>();
        foreach (var (e, where) in Json.Array(root, "images", instancesJson))
        {
            Json.Long(e, "width", where);
            Json.Long(e, "height", where);
            Json.String(e, "file_name", where);
            images[Json.Long(e, "id", where)] = e;
        }
        var annotations = new Dictionary<long, Annotation>();
        foreach (var (e, where) in Json.Array(root, "annotations", instancesJson))
        {
            if (!e.TryGetProperty("bbox", out var bbox)) throw new GroundSharpException($"{where}: missing \"bbox\" [x, y, w, h]");
            annotations[Json.Long(e, "id", where)] = new Annotation(Json.Long(e, "image_id", where), bbox,
                e.TryGetProperty("category_id", out var c) && c.TryGetInt64(out long cid) ? cid : null);
        }
        var categories = root.TryGetProperty("categories", out _) ? Json.Array(root, "categories", instancesJson).Select(c => c.Element).ToList() : [];

        // Every ref must resolve: its annotation, that annotation's image, a box with an area.
        var refEntries = new List<object>();
        var usedImages = new SortedSet<long>();
        foreach (var r in refs)
        {
            if (!annotations.TryGetValue(r.AnnId, out var ann))
                throw new GroundSharpException($"{instancesJson}: annotation {r.AnnId} (ann_id of {r.Where}) is not in \"annotations\" — is this the instances.json of {dataset}?");
            if (ann.ImageId != r.ImageId)
                throw new GroundSharpException($"{instancesJson}: annotation {r.AnnId} belongs to image {ann.ImageId}, but {r.Where} names image {r.ImageId}");
            if (!images.ContainsKey(r.ImageId))
                throw new GroundSharpException($"{instancesJson}: image {r.ImageId} (image_id of {r.Where}) is not in \"images\"");
            Json.XywhValue(ann.Bbox, $"{instancesJson}: annotation {r.AnnId}").EnsureHasArea($"{instancesJson}: annotation {r.AnnId}");
            usedImages.Add(r.ImageId);
            refEntries.Add(new
            {
                ref_id = r.RefId, ann_id = r.AnnId, image_id = r.ImageId, split = r.Split,
                category_id = r.CategoryId ?? ann.CategoryId,
                bbox = ann.Bbox, // as COCO gives it: [x, y, w, h]
            });
        }

        var groups = new SortedDictionary<string, List<object>>(StringComparer.Ordinal);
        var perSplit = new SortedDictionary<string, int>(StringComparer.Ordinal);
        foreach (var r in refs)
        {
            string fileName = images[r.ImageId].GetProperty("file_name").GetString()!;
            var group = groups.TryGetValue(SplitGroup(r.Split), out var g) ? g : groups[SplitGroup(r.Split)] = [];
            foreach (var sentence in r.Sentences)
                group.Add(new { image = fileName, text = sentence, ref_id = r.RefId, split = r.Split });
            perSplit[r.Split] = perSplit.GetValueOrDefault(r.Split) + r.Sentences.Count;
        }

        Directory.CreateDirectory(outDir);
        var files = new List<string>();
        var refsPath = Path.Combine(outDir, "refs.json");
        AtomicFile.WriteAllText(refsPath, JsonSerializer.Serialize(new
        {
            dataset,
            source = new { refs = Path.GetFileName(refsPickle), instances = Path.GetFileName(instancesJson) },
            images = usedImages.Select(id => images[id]).ToList(),
            categories,
            refs = refEntries,
        }, FileJson));
        files.Add(refsPath);
        foreach (var (group, entries) in groups)
        {
            var path = Path.Combine(outDir, $"{dataset}_{group}.json");
            AtomicFile.WriteAllText(path, JsonSerializer.Serialize(entries, FileJson));
            files.Add(path);
        }
        return new ReferPreparationResult(dataset, refs.Count, usedImages.Count, perSplit, files);
    }

    /// <summary>The grounding file a REFER split goes to: testA / testB / testC share the test file (eval's <c>--split testA</c> picks them out).</summary>
    public static string SplitGroup(string split) => split.StartsWith("test", StringComparison.Ordinal) ? "test" : split;

    private static List<Ref> ReadRefs(string path)
    {
        if (!File.Exists(path)) throw new GroundSharpException($"file not found: {path}");
        var data = RestrictedUnpickler.ReadPlainData(File.ReadAllBytes(path), $"refs pickle '{path}'");
        if (data is not List<object?> list)
            throw new GroundSharpException($"{path}: expected a list of refs (the REFER toolkit's refs(*).p), found a {RestrictedUnpickler.Describe(data)}");
        var refs = new List<Ref>(list.Count);
        var seen = new HashSet<long>();
        for (int i = 0; i < list.Count; i++)
        {
            string where = $"{Path.GetFileName(path)} refs[{i}]";
            if (list[i] is not PickleDict d) throw new GroundSharpException($"{path}: refs[{i}] is a {RestrictedUnpickler.Describe(list[i])}, not a dict");
            long refId = Integer(d, "ref_id", where, path);
            where = $"{Path.GetFileName(path)} refs[{i}] (ref_id {refId})";
            if (!seen.Add(refId)) throw new GroundSharpException($"{path}: ref_id {refId} occurs twice");
            long annId = Integer(d, "ann_id", where, path), imageId = Integer(d, "image_id", where, path);
            string split = d.TryGetValue("split", out var s) && s is string split0 && split0.Length > 0
                ? split0 : throw new GroundSharpException($"{path}: {where} has no \"split\" string");
            long? category = d.TryGetValue("category_id", out var c) && c is long cid ? cid : null;
            if (!d.TryGetValue("sentences", out var sv) || sv is not List<object?> sentenceList)
                throw new GroundSharpException($"{path}: {where} has no \"sentences\" list");
            var sentences = new List<string>(sentenceList.Count);
            for (int j = 0; j < sentenceList.Count; j++)
            {
                // REFER's 'sent' is the cleaned, lower-cased sentence its evaluations use; 'raw' the annotator's text.
                string? text = sentenceList[j] is PickleDict sd
                    ? (sd.TryGetValue("sent", out var sent) ? sent as string : null) ?? (sd.TryGetValue("raw", out var raw) ? raw as string : null)
                    : null;
                if (text is null) throw new GroundSharpException($"{path}: {where} sentences[{j}] has no \"sent\" or \"raw\" string");
                if (text.Trim().Length > 0) sentences.Add(text.Trim());
            }
            refs.Add(new Ref(refId, annId, imageId, split, category, sentences, where));
        }
        if (refs.Count == 0) throw new GroundSharpException($"{path}: the refs list is empty");
        return refs;
    }

    private static long Integer(PickleDict d, string key, string where, string path) =>
        d.TryGetValue(key, out var v) && v is long n ? n : throw new GroundSharpException($"{path}: {where} has no integer \"{key}\"");
}
