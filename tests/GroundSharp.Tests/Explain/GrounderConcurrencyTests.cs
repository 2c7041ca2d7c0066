using GroundSharp.Data;
using GroundSharp.Explain;
using GroundSharp.Tests.Models;
using Xunit;

namespace GroundSharp.Tests.Explain;

/// <summary>A Grounder used from several threads at once gives the single-thread results (calls on one model are serialised).</summary>
public class GrounderConcurrencyTests
{
    private static readonly string[] Images = ["image_0_320x240.png", "image_1_200x300.png", "image_2_512x288.png"];
    private static readonly string[] Phrases = ["qdaw qdwd qdkw", "qdbs qcqi", "qcuz"];

    [Fact]
    public async Task ParallelCallsOnOneModelMatchSequentialOnes()
    {
        using var model = FixtureModel.Load();
        var tokenizer = AlbefTokenizer.FromVocab(FixtureData.PathOf(Path.Combine("cli", "vocab.txt")));
        var first = new Grounder(model, tokenizer);
        var second = new Grounder(model, tokenizer); // another Grounder on the same model
        var images = Images.Select(i => ImageLoader.Load(FixtureData.PathOf(i))).ToArray();
        var expected = images.Select(img => first.Ground(img, Phrases)).ToArray();

        // Eight threads released together, five times over, each grounding one image (GradCAM captures attention in
        // the shared model's layers: unserialised, the calls would take each other's captures).
        const int threads = 8, rounds = 5;
        var outcomes = new (int Image, IReadOnlyList<GroundingResult>? Results, Exception? Error)[threads * rounds];
        using var barrier = new Barrier(threads);
        var workers = Enumerable.Range(0, threads).Select(t => new Thread(() =>
        {
            for (int r = 0; r < rounds; r++)
            {
                barrier.SignalAndWait();
                int k = r * threads + t;
                try { outcomes[k] = (k % 3, (t % 2 == 0 ? first : second).Ground(images[k % 3], Phrases), null); }
                catch (Exception e) { outcomes[k] = (k % 3, null, e); }
            }
        })).ToList();
        workers.ForEach(w => w.Start());
        workers.ForEach(w => w.Join());
        var viaAsync = await first.GroundAsync(images[1], Phrases);
        foreach (var (k, results, error) in outcomes.Append((1, viaAsync, null)))
        {
            Assert.Null(error);
            var want = expected[k];
            Assert.Equal(want.Count, results!.Count);
            for (int i = 0; i < want.Count; i++)
            {
                Assert.Equal(want[i].GridMap, results[i].GridMap);
                Assert.Equal(want[i].Point, results[i].Point);
                Assert.Equal(want[i].Score, results[i].Score);
            }
        }

        using var cancelled = new CancellationTokenSource();
        cancelled.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => first.GroundAsync(images[0], Phrases, cancelled.Token));
    }
}
