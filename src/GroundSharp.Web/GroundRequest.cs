using System.Text.Json;
using System.Text.Json.Serialization;
using GroundSharp.Data;
using Microsoft.AspNetCore.Http;

namespace GroundSharp.Web;

/// <summary>A request refused with an HTTP status and a message for the user.</summary>
public sealed class ApiException(int statusCode, string message) : Exception(message)
{
    public int StatusCode { get; } = statusCode;
}

/// <summary>The JSON form of <c>POST /api/ground</c>: a bundled sample by id and its phrases.</summary>
public sealed record GroundJsonRequest(
    [property: JsonPropertyName("sample")] string? Sample,
    [property: JsonPropertyName("phrases")] IReadOnlyList<string?>? Phrases);

/// <summary>What a grounding request asks for, read and checked against the limits (but not yet decoded).</summary>
public sealed record GroundRequest(string ImageSource, Func<RgbImage> DecodeImage, IReadOnlyList<string> Phrases)
{
    /// <summary>Reads a multipart form (fields <c>image</c> and <c>phrases</c>, or <c>sample</c>) or a JSON body.</summary>
    public static async Task<GroundRequest> ReadAsync(HttpRequest request, ServeOptions options, CancellationToken cancellationToken)
    {
        var limits = new ImageLimits { MaxPixels = options.MaxPixels, MaxFileBytes = options.MaxUploadBytes };
        if (request.HasFormContentType)
        {
            IFormCollection form;
            try { form = await request.ReadFormAsync(cancellationToken); }
            catch (InvalidDataException e) { throw new ApiException(StatusCodes.Status400BadRequest, "the multipart form could not be read: " + e.Message); }
            var phrases = CheckPhrases(form["phrases"].SelectMany(SplitLines).ToList(), options);
            var file = form.Files.GetFile("image");
            if (file is not null)
            {
                if (file.Length == 0) throw new ApiException(StatusCodes.Status400BadRequest, "the uploaded image is empty (0 bytes)");
                var bytes = new byte[file.Length];
                await using (var stream = file.OpenReadStream()) await stream.ReadExactlyAsync(bytes, cancellationToken);
                // The client's file name is not trusted with anything, not even messages.
                return new GroundRequest("upload", () => ImageLoader.Load(bytes, "upload", limits), phrases);
            }
            var sampleId = form["sample"].ToString();
            if (sampleId.Length > 0) return FromSample(sampleId, phrases);
            throw new ApiException(StatusCodes.Status400BadRequest, "no image: send the file in the form field 'image' (or a sample id in 'sample')");
        }
        if (request.HasJsonContentType())
        {
            GroundJsonRequest? body;
            try { body = await request.ReadFromJsonAsync<GroundJsonRequest>(cancellationToken); }
            catch (JsonException e) { throw new ApiException(StatusCodes.Status400BadRequest, "the JSON body could not be read: " + ValueDescriptions.Of(e)); }
            if (body is null) throw new ApiException(StatusCodes.Status400BadRequest, "the JSON body is empty");
            var given = body.Phrases ?? [];
            for (int i = 0; i < given.Count; i++)
                if (string.IsNullOrWhiteSpace(given[i])) throw new ApiException(StatusCodes.Status400BadRequest, $"phrase {i + 1} is empty");
            var phrases = CheckPhrases(given.Select(p => p!.Trim()).ToList(), options);
            if (string.IsNullOrEmpty(body.Sample))
                throw new ApiException(StatusCodes.Status400BadRequest, "JSON requests name a bundled sample ('sample'); upload your own image as multipart/form-data");
            return FromSample(body.Sample, phrases);
        }
        throw new ApiException(StatusCodes.Status415UnsupportedMediaType, "send multipart/form-data (fields 'image' and 'phrases') or application/json ({\"sample\": id, \"phrases\": [...]})");
    }

    private static GroundRequest FromSample(string id, IReadOnlyList<string> phrases)
    {
        if (!SampleImages.TryGet(id, out var sample))
            throw new ApiException(StatusCodes.Status400BadRequest, $"unknown sample id (known: {string.Join(", ", SampleImages.All.Select(s => s.Id))})");
        return new GroundRequest("sample " + sample.Id, () => SampleImages.Image(sample), phrases);
    }

    /// <summary>One phrase per line; blank lines (e.g. a textarea's trailing newline) are skipped.</summary>
    private static IEnumerable<string> SplitLines(string? text) =>
        (text ?? "").Split('\n').Select(line => line.Trim()).Where(line => line.Length > 0);

    private static IReadOnlyList<string> CheckPhrases(List<string> phrases, ServeOptions options)
    {
        if (phrases.Count == 0)
            throw new ApiException(StatusCodes.Status400BadRequest, "no phrase given: send at least one in 'phrases' (one per line)");
        if (phrases.Count > options.MaxPhrases)
            throw new ApiException(StatusCodes.Status400BadRequest, $"{phrases.Count} phrases given; at most {options.MaxPhrases} per request");
        for (int i = 0; i < phrases.Count; i++)
            if (phrases[i].Length > options.MaxPhraseLength)
                throw new ApiException(StatusCodes.Status400BadRequest, $"phrase {i + 1} is {phrases[i].Length} characters long; at most {options.MaxPhraseLength}");
        return phrases;
    }
}
