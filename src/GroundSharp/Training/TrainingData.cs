using System.Threading.Channels;
using GroundSharp.Data;

namespace GroundSharp.Training;

/// <summary>A sample with the place it was read from (file:line), for messages.</summary>
public sealed record LocatedSample(GroundingSample Sample, string Where);

/// <summary>
/// The training samples of one run, read up front from the JSON-lines files. Policy (docs/training.md): a
/// malformed line fails the run naming file:line; a sample whose image file does not exist is skipped with a
/// warning. Boxes are checked against the image when it is decoded (<see cref="BatchPipeline"/>).
/// </summary>
public sealed class TrainingData
{
    public TrainingData(IReadOnlyList<LocatedSample> samples, IReadOnlyList<string> warnings)
    {
        Samples = samples;
        Warnings = warnings;
    }

    public IReadOnlyList<LocatedSample> Samples { get; }
    public IReadOnlyList<string> Warnings { get; }

    public static TrainingData Load(IEnumerable<string> files, string? imageRoot)
    {
        var samples = new List<LocatedSample>();
        var warnings = new List<string>();
        foreach (var file in files)
        {
            if (!File.Exists(file)) throw new GroundSharpException($"sample file not found: {file}");
            string root = imageRoot ?? Path.GetDirectoryName(Path.GetFullPath(file))!;
            int lineNo = 0;
            foreach (var line in File.ReadLines(file))
            {
                lineNo++;
                if (string.IsNullOrWhiteSpace(line)) continue;
                string where = $"{file}:{lineNo}";
                var sample = GroundingSampleFile.Parse(line, root, where);
                if (!File.Exists(sample.ImagePath))
                {
                    warnings.Add($"{where}: image not found ({sample.ImagePath}); sample skipped");
                    continue;
                }
                samples.Add(new LocatedSample(sample, where));
            }
        }
        // The warnings are only printed for a run that starts, so this message carries them itself.
        if (samples.Count == 0)
            throw new GroundSharpException(warnings.Count == 0
                ? $"no training samples in {string.Join(", ", files)}"
                : $"no usable training samples: the image of every one of the {warnings.Count} samples is missing, e.g. {warnings[0]}");
        return new TrainingData(samples, warnings);
    }
}

/// <summary>The samples of one step, decoded and augmented (CPU arrays; tensors are made on the training thread).</summary>
public sealed record PreparedBatch(int Step, IReadOnlyList<AugmentedSample> Samples, IReadOnlyList<string> Warnings);

/// <summary>
/// Decodes and augments the batches of steps [startStep, totalSteps) on a background thread, a bounded number
/// ahead of the training loop. The order is a fixed function of the seed: epoch e visits the samples in a
/// permutation drawn from (seed, e) and drops the last partial batch; the augmentation of the sample in slot
/// k of step s uses a <see cref="Random"/> seeded from (seed, s, k). So resuming at step s only needs s.
/// </summary>
public sealed class BatchPipeline : IDisposable
{
    private readonly TrainingData _data;
    private readonly TripletAugmenter _augmenter;
    private readonly int _batchSize;
    private readonly long _seed;
    private readonly Channel<PreparedBatch> _channel;
    private readonly CancellationTokenSource _cancel = new();
    private readonly Task _producer;

    public BatchPipeline(TrainingData data, TripletAugmenter augmenter, int batchSize, long seed, int startStep, int totalSteps, int prefetch)
    {
        _data = data;
        _augmenter = augmenter;
        _batchSize = batchSize;
        _seed = seed;
        if (data.Samples.Count < batchSize)
            throw new GroundSharpException($"the dataset has {data.Samples.Count} usable samples, fewer than batch_size {batchSize}");
        _channel = Channel.CreateBounded<PreparedBatch>(new BoundedChannelOptions(prefetch) { SingleReader = true, SingleWriter = true });
        _producer = Task.Factory.StartNew(() => Produce(startStep, totalSteps), _cancel.Token, TaskCreationOptions.LongRunning, TaskScheduler.Default);
    }

    public int StepsPerEpoch => _data.Samples.Count / _batchSize;

    public static int StepsPerEpochFor(int samples, int batchSize) => samples / batchSize;

    /// <summary>The sample indices of a step, in slot order.</summary>
    public static int[] IndicesOfStep(int step, int sampleCount, int batchSize, long seed)
    {
        int perEpoch = sampleCount / batchSize;
        int epoch = step / perEpoch, offset = (step % perEpoch) * batchSize;
        var order = Enumerable.Range(0, sampleCount).ToArray();
        new Random(Mix(seed, epoch, -1)).Shuffle(order);
        return order.AsSpan(offset, batchSize).ToArray();
    }

    /// <summary>A 32-bit seed from (seed, a, b) through SplitMix64, so neighbouring steps get unrelated streams.</summary>
    public static int Mix(long seed, long a, long b)
    {
        ulong z = (ulong)seed ^ 0x9E3779B97F4A7C15UL * (ulong)(a + 1) ^ 0xBF58476D1CE4E5B9UL * (ulong)(b + 2);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return (int)((z ^ (z >> 31)) & 0x7FFFFFFF);
    }

    /// <summary>The next batch, in step order; throws the producer's error (naming the record) if it failed.</summary>
    public PreparedBatch Next(CancellationToken token = default)
    {
        var read = _channel.Reader.ReadAsync(token).AsTask();
        try
        {
            return read.GetAwaiter().GetResult();
        }
        catch (ChannelClosedException e) when (e.InnerException is not null)
        {
            throw e.InnerException is GroundSharpException g ? new GroundSharpException(g.Message, g) : e.InnerException;
        }
    }

    private void Produce(int startStep, int totalSteps)
    {
        Exception? error = null;
        try
        {
            for (int step = startStep; step < totalSteps && !_cancel.IsCancellationRequested; step++)
            {
                var batch = Prepare(step);
                _channel.Writer.WriteAsync(batch, _cancel.Token).AsTask().GetAwaiter().GetResult();
            }
        }
        catch (OperationCanceledException) { }
        catch (Exception e) { error = e; }
        _channel.Writer.TryComplete(error);
    }

    /// <summary>Decodes and augments one step's samples. Policy: a box that lies entirely outside its image skips the sample.</summary>
    public PreparedBatch Prepare(int step)
    {
        var indices = IndicesOfStep(step, _data.Samples.Count, _batchSize, _seed);
        var samples = new List<AugmentedSample>();
        var warnings = new List<string>();
        for (int slot = 0; slot < indices.Length; slot++)
        {
            var (sample, where) = _data.Samples[indices[slot]];
            RgbImage image;
            try
            {
                image = ImageLoader.Load(sample.ImagePath);
            }
            catch (GroundSharpException e)
            {
                throw new GroundSharpException($"{where}: {e.Message}", e);
            }
            if (sample.Box is { } box && box.ClipTo(image.Width, image.Height) is var clipped && (clipped.Width <= 0 || clipped.Height <= 0))
            {
                warnings.Add($"{where}: box {box} lies outside the {image.Width}x{image.Height} image (or has no area); sample skipped");
                continue;
            }
            samples.Add(_augmenter.Augment(image, sample, new Random(Mix(_seed, step, slot))));
        }
        if (samples.Count < 2)
            throw new GroundSharpException($"step {step}: fewer than 2 usable samples in the batch ({string.Join("; ", warnings)})");
        return new PreparedBatch(step, samples, warnings);
    }

    public void Dispose()
    {
        _cancel.Cancel();
        // Unblock a producer waiting on a full channel, then wait for it.
        while (_channel.Reader.TryRead(out _)) { }
        try { _producer.Wait(TimeSpan.FromSeconds(30)); }
        catch (AggregateException) { }
        _cancel.Dispose();
    }
}
