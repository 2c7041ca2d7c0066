using GroundSharp.Data;
using GroundSharp.Eval;
using GroundSharp.IO;
using static TorchSharp.torch;

namespace GroundSharp.Rec;

/// <summary>One anchor of the image, its box in original pixels and its cosine similarity to the phrase.</summary>
public readonly record struct RecCandidate(Box Box, double Similarity);

/// <summary>
/// A phrase grounded by a REC model: the anchor most similar to it (Eq. 1), its box in original image pixels and
/// the box centre as the point; <see cref="Candidates"/> holds every anchor of the image, most similar first.
/// </summary>
public sealed record RecGroundingResult(string Phrase, Box Box, (int X, int Y) Point, double Similarity, IReadOnlyList<RecCandidate> Candidates,
    IReadOnlyList<string> Warnings)
{
    /// <summary>phrase, point, box, score (the similarity), candidates [{box, score}], warnings: the GradCAM results' keys where they apply; callers add their own.</summary>
    public Dictionary<string, object?> JsonFields() => new()
    {
        ["phrase"] = Phrase,
        ["point"] = new[] { Point.X, Point.Y },
        ["box"] = new[] { Box.X1, Box.Y1, Box.X2, Box.Y2 },
        ["score"] = Similarity,
        ["candidates"] = Candidates.Select(c => new { box = new[] { c.Box.X1, c.Box.Y1, c.Box.X2, c.Box.Y2 }, score = c.Similarity }).ToList(),
        ["warnings"] = Warnings,
    };
}

/// <summary>
/// Grounds phrases in one image with a REC checkpoint: the frozen detector encodes the image once, every phrase
/// ranks the same top-k anchors. Not thread-safe (the model is switched to eval mode per call).
/// </summary>
public sealed class RecGrounder(RecModel model)
{
    public RecModel Model { get; } = model;

    /// <summary>Whether <paramref name="path"/> is a REC checkpoint written by <see cref="RecModel.Save"/> (reads only the header).</summary>
    public static bool IsRecCheckpoint(string path) =>
        path.EndsWith(".safetensors", StringComparison.OrdinalIgnoreCase) && File.Exists(path)
        && SafeTensors.ReadMetadata(path).ContainsKey(RecModel.ConfigMetadataKey);

    /// <summary>The pointing-game point of a chosen box: its centre, truncated to a pixel (as the REC evaluation scores it).</summary>
    public static (int X, int Y) Centre(Box box) => ((int)((box.X1 + box.X2) / 2), (int)((box.Y1 + box.Y2) / 2));

    public IReadOnlyList<RecGroundingResult> Ground(RgbImage image, IReadOnlyList<string> phrases)
    {
        if (phrases.Count == 0) return [];
        int size = Model.Config.Detector.InputSize;
        var values = new float[3 * size * size];
        DetectorInput.Write(image, size, values);
        using var scope = NewDisposeScope();
        using var input = tensor(values, [1, 3, size, size]);
        using var visual = Model.EncodeImages(input);
        using var repeated = visual.Select(new long[phrases.Count]);
        var similarities = Model.Similarities(repeated, phrases).to_type(ScalarType.Float64).cpu();
        var boxes = visual.Boxes.to_type(ScalarType.Float64).cpu();
        int k = (int)boxes.shape[1];
        var anchorBoxes = Enumerable.Range(0, k).Select(a =>
        {
            var b = boxes[0, a].data<double>().ToArray();
            return DetectorInput.ToImage(new Box(b[0], b[1], b[2], b[3]), image.Width, image.Height, size);
        }).ToArray();
        var results = new List<RecGroundingResult>();
        for (int p = 0; p < phrases.Count; p++)
        {
            var sims = similarities[p].data<double>().ToArray();
            var candidates = Enumerable.Range(0, k).OrderByDescending(a => sims[a]).Select(a => new RecCandidate(anchorBoxes[a], sims[a])).ToList();
            var chosen = candidates[0];
            results.Add(new RecGroundingResult(phrases[p], chosen.Box, Centre(chosen.Box), chosen.Similarity, candidates, Warnings(phrases[p])));
        }
        return results;
    }

    /// <summary>Words the model's vocabulary lacks (they all read as one unknown word).</summary>
    private List<string> Warnings(string phrase)
    {
        var words = RecVocabulary.Tokenize(phrase);
        if (words.Count == 0) return ["the phrase has no words the REC vocabulary can read"];
        var unknown = words.Where(w => Model.Vocabulary.IdOf(w) == RecVocabulary.UnknownId).Distinct().ToList();
        if (unknown.Count == words.Count) return [$"none of the phrase's words are in the REC model's vocabulary ({string.Join(", ", unknown)}): the answer ignores the phrase"];
        return unknown.Count == 0 ? [] : [$"words not in the REC model's vocabulary, read as unknown: {string.Join(", ", unknown)}"];
    }
}
