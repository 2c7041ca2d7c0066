using System.Runtime.InteropServices;
using Xunit;

namespace GroundSharp.Tests;

public class TransientNativeErrorTests
{
    private static readonly ExternalException ScalarError = new("Unknown scalar type. Exception raised from toFloat at /pytorch/c10/core/Scalar.h:140");

    [Fact]
    public void Retry_RedoesTheWorkAfterTheScalarError_AndWarnsEachTime()
    {
        var log = new List<string>();
        int calls = 0;
        int result = TransientNativeError.Retry("the test stage", () => ++calls < 3 ? throw ScalarError : 42, log.Add);
        Assert.Equal(42, result);
        Assert.Equal(3, calls);
        Assert.Equal(2, log.Count);
        Assert.Contains("retry 2 of 5 from the start of the test stage", log[1]);
    }

    [Fact]
    public void Retry_LetsOtherErrorsAndTheLastFailureThrough()
    {
        int calls = 0;
        Assert.Throws<ExternalException>(() => TransientNativeError.Retry("x", () => { calls++; throw new ExternalException("shape '[4, -1]' is invalid for input of size 3"); }, _ => { }));
        Assert.Equal(1, calls);
        Assert.Throws<InvalidOperationException>(() => TransientNativeError.Retry("x", () => { calls++; throw new InvalidOperationException("toFloat"); }, _ => { }));

        calls = 0;
        var e = Assert.Throws<ExternalException>(() => TransientNativeError.Retry("x", () => { calls++; throw ScalarError; }, _ => { }, retries: 2));
        Assert.Same(ScalarError, e);
        Assert.Equal(3, calls);
    }

    [Fact]
    public void Retry_CountsEveryRedo()
    {
        int before = TransientNativeError.Redone, calls = 0;
        TransientNativeError.Retry("x", () => ++calls < 3 ? throw ScalarError : 0, _ => { });
        Assert.True(TransientNativeError.Redone >= before + 2);
    }
}

/// <summary>The environment cap is process-wide: these run alone (the training collection is not parallelised).</summary>
[Collection(GroundSharp.Tests.Training.TrainingCollection.Name)]
public class TransientNativeErrorCapTests
{
    [Fact]
    public void RetriesCanBeTurnedOffByTheEnvironment_ForASoakRun()
    {
        var error = new ExternalException("Unknown scalar type. Exception raised from toFloat at /pytorch/c10/core/Scalar.h:140");
        Environment.SetEnvironmentVariable(TransientNativeError.RetriesVariable, "0");
        try
        {
            int calls = 0;
            Assert.Same(error, Assert.Throws<ExternalException>(() => TransientNativeError.Retry("x", () => { calls++; throw error; }, _ => { })));
            Assert.Equal(1, calls);
        }
        finally { Environment.SetEnvironmentVariable(TransientNativeError.RetriesVariable, null); }
    }
}
