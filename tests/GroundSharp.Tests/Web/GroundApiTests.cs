using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using GroundSharp.Data;
using GroundSharp.Explain;
using GroundSharp.Web;
using Xunit;

namespace GroundSharp.Tests.Web;

/// <summary>The JSON API of <c>groundsharp serve</c> against a real Kestrel with the fixture model.</summary>
[Trait("Category", "Web")]
public class GroundApiTests(FixtureServer fixture) : IClassFixture<FixtureServer>
{
    private HttpClient Client => fixture.Web.Client;
    private static string ImagePath => FixtureData.PathOf("image_0_320x240.png");

    private static MultipartFormDataContent Form(byte[] image, params string[] phraseFields)
    {
        var form = new MultipartFormDataContent();
        var file = new ByteArrayContent(image);
        file.Headers.ContentType = new MediaTypeHeaderValue("image/png");
        form.Add(file, "image", "picture.png");
        foreach (var p in phraseFields) form.Add(new StringContent(p), "phrases");
        return form;
    }

    private static async Task<JsonElement> Json(HttpResponseMessage response) =>
        JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;

    private static async Task<string> ErrorOf(HttpResponseMessage response, HttpStatusCode expected)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == expected, $"expected {(int)expected}, got {(int)response.StatusCode}: {body}");
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        using var doc = JsonDocument.Parse(body);
        Assert.Equal((int)expected, doc.RootElement.GetProperty("status").GetInt32());
        return doc.RootElement.GetProperty("error").GetString()!;
    }

    [Fact]
    public async Task Multipart_upload_gives_one_result_per_phrase_in_the_images_coordinates()
    {
        // One field with two lines (and a trailing newline) plus a repeated field: three phrases.
        using var response = await Client.PostAsync("/api/ground", Form(File.ReadAllBytes(ImagePath), "qdaw qdwd qdkw\nqdbs qcqi\n", "qcuz"));
        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
        var body = await Json(response);
        Assert.Equal(320, body.GetProperty("image").GetProperty("width").GetInt32());
        Assert.Equal(240, body.GetProperty("image").GetProperty("height").GetInt32());
        Assert.False(body.GetProperty("untrainedModel").GetBoolean());
        var results = body.GetProperty("results").EnumerateArray().ToList();
        Assert.Equal(["qdaw qdwd qdkw", "qdbs qcqi", "qcuz"], results.Select(r => r.GetProperty("phrase").GetString()));

        // The same phrases through the library directly, on another copy of the model.
        using var direct = WebTestServer.FixtureModel();
        var expected = new Grounder(direct.Model, direct.Tokenizer).Ground(ImageLoader.Load(ImagePath), ["qdaw qdwd qdkw", "qdbs qcqi", "qcuz"]);
        for (int i = 0; i < results.Count; i++)
        {
            var r = results[i];
            Assert.Equal([16, 16], r.GetProperty("gridSize").EnumerateArray().Select(e => e.GetInt32()));
            var grid = r.GetProperty("gridMap").EnumerateArray().Select(e => e.GetSingle()).ToArray();
            Assert.Equal(256, grid.Length);
            Assert.Equal(expected[i].GridMap, grid);
            int x = r.GetProperty("point")[0].GetInt32(), y = r.GetProperty("point")[1].GetInt32();
            Assert.Equal(expected[i].Point, (x, y));
            Assert.InRange(x, 0, 319);
            Assert.InRange(y, 0, 239);
            var box = r.GetProperty("box").EnumerateArray().Select(e => e.GetDouble()).ToArray();
            Assert.True(box[0] <= x && x < box[2] && box[1] <= y && y < box[3], "the box holds the point");
            Assert.True(box[0] >= 0 && box[1] >= 0 && box[2] <= 320 && box[3] <= 240, "the box is inside the image");
            Assert.Equal(expected[i].Score, r.GetProperty("score").GetDouble(), 6);
            Assert.True(r.GetProperty("timing").GetProperty("inferenceMs").GetDouble() > 0);

            var heatmapUrl = r.GetProperty("heatmapPng").GetString()!;
            Assert.StartsWith("data:image/png;base64,", heatmapUrl);
            var heatmap = ImageLoader.Load(Convert.FromBase64String(heatmapUrl["data:image/png;base64,".Length..]), "heatmap");
            Assert.Equal((320, 240), (heatmap.Width, heatmap.Height));

            using var overlay = await Client.GetAsync(r.GetProperty("overlayUrl").GetString());
            Assert.Equal(HttpStatusCode.OK, overlay.StatusCode);
            Assert.Equal("image/png", overlay.Content.Headers.ContentType?.MediaType);
            var overlayImage = ImageLoader.Load(await overlay.Content.ReadAsByteArrayAsync(), "overlay");
            Assert.Equal((320, 240), (overlayImage.Width, overlayImage.Height));
        }
    }

    [Fact]
    public async Task Json_request_grounds_a_bundled_sample_by_id()
    {
        using var response = await Client.PostAsJsonAsync("/api/ground", new { sample = "shapes-3", phrases = new[] { "the red square" } });
        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
        var body = await Json(response);
        Assert.Equal("sample shapes-3", body.GetProperty("image").GetProperty("source").GetString());
        Assert.Equal(240, body.GetProperty("image").GetProperty("width").GetInt32());
        Assert.Equal(320, body.GetProperty("image").GetProperty("height").GetInt32());
        var result = Assert.Single(body.GetProperty("results").EnumerateArray());
        Assert.InRange(result.GetProperty("point")[0].GetInt32(), 0, 239);
        Assert.InRange(result.GetProperty("point")[1].GetInt32(), 0, 319);
        Assert.InRange(result.GetProperty("score").GetDouble(), 0, 1);
    }

    [Fact]
    public async Task Unknown_sample_id_is_refused_without_touching_the_file_system()
    {
        using var response = await Client.PostAsJsonAsync("/api/ground", new { sample = "../../checkpoint.pth", phrases = new[] { "x" } });
        Assert.Contains("unknown sample id", await ErrorOf(response, HttpStatusCode.BadRequest));
    }

    [Fact]
    public async Task Upload_over_the_limit_is_413()
    {
        var big = new byte[FixtureServer.UploadLimit + 1];
        // Expect: 100-continue, as a careful client does: the server refuses from Content-Length alone, so the
        // client never streams the body into a closed connection (a broken pipe would hide the 413).
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/ground") { Content = Form(big, "a phrase") };
        request.Headers.ExpectContinue = true;
        using var response = await Client.SendAsync(request);
        Assert.Contains("larger than the limit", await ErrorOf(response, HttpStatusCode.RequestEntityTooLarge));
    }

    [Fact]
    public async Task Chunked_upload_over_the_limit_is_413_too()
    {
        // No Content-Length: the limit is met while the body is read.
        var form = Form(new byte[FixtureServer.UploadLimit + 1], "a phrase");
        var chunked = new StreamContent(await form.ReadAsStreamAsync());
        chunked.Headers.ContentType = form.Headers.ContentType;
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/ground") { Content = chunked };
        request.Headers.TransferEncodingChunked = true;
        using var response = await Client.SendAsync(request);
        Assert.Contains("larger than the limit", await ErrorOf(response, HttpStatusCode.RequestEntityTooLarge));
    }

    [Fact]
    public async Task Undecodable_image_is_400_with_a_clear_message()
    {
        using var response = await Client.PostAsync("/api/ground", Form("this is not a picture"u8.ToArray(), "a phrase"));
        Assert.Contains("not a readable image", await ErrorOf(response, HttpStatusCode.BadRequest));
    }

    [Fact]
    public async Task Decompression_bomb_header_is_400_before_decoding()
    {
        using var response = await Client.PostAsync("/api/ground", Form(TestImages.PngClaiming(100_000, 100_000), "a phrase"));
        var error = await ErrorOf(response, HttpStatusCode.BadRequest);
        Assert.Contains("10000000000 pixels", error);
        Assert.Contains($"limit of {ServeOptions.DefaultMaxPixels}", error);
    }

    [Fact]
    public async Task Missing_or_blank_phrases_are_400()
    {
        using (var response = await Client.PostAsync("/api/ground", Form(File.ReadAllBytes(ImagePath), " \n\n ")))
            Assert.Contains("no phrase given", await ErrorOf(response, HttpStatusCode.BadRequest));
        using (var response = await Client.PostAsync("/api/ground", Form(File.ReadAllBytes(ImagePath))))
            Assert.Contains("no phrase given", await ErrorOf(response, HttpStatusCode.BadRequest));
        using (var response = await Client.PostAsJsonAsync("/api/ground", new { sample = "shapes-1", phrases = new[] { "the red circle", "  " } }))
            Assert.Contains("phrase 2 is empty", await ErrorOf(response, HttpStatusCode.BadRequest));
    }

    [Fact]
    public async Task Phrase_that_cleans_to_nothing_is_400()
    {
        using var response = await Client.PostAsJsonAsync("/api/ground", new { sample = "shapes-1", phrases = new[] { "?!" } });
        Assert.NotEmpty(await ErrorOf(response, HttpStatusCode.BadRequest));
    }

    [Fact]
    public async Task Too_many_or_too_long_phrases_are_400()
    {
        var many = string.Join('\n', Enumerable.Range(0, ServeOptions.DefaultMaxPhrases + 1).Select(i => $"phrase {i}"));
        using (var response = await Client.PostAsync("/api/ground", Form(File.ReadAllBytes(ImagePath), many)))
            Assert.Contains($"at most {ServeOptions.DefaultMaxPhrases} per request", await ErrorOf(response, HttpStatusCode.BadRequest));
        var longPhrase = new string('a', ServeOptions.DefaultMaxPhraseLength + 1);
        using (var response = await Client.PostAsJsonAsync("/api/ground", new { sample = "shapes-1", phrases = new[] { longPhrase } }))
            Assert.Contains($"at most {ServeOptions.DefaultMaxPhraseLength}", await ErrorOf(response, HttpStatusCode.BadRequest));
    }

    [Fact]
    public async Task Other_content_types_and_bad_json_are_refused()
    {
        using (var response = await Client.PostAsync("/api/ground", new StringContent("hello")))
            await ErrorOf(response, HttpStatusCode.UnsupportedMediaType);
        using (var response = await Client.PostAsync("/api/ground", new StringContent("{\"sample\": ", System.Text.Encoding.UTF8, "application/json")))
            Assert.Contains("JSON body could not be read", await ErrorOf(response, HttpStatusCode.BadRequest));
        // A value of the wrong kind says what is expected, not which .NET type it failed to become.
        using (var response = await Client.PostAsync("/api/ground", new StringContent("{\"sample\": \"shapes-3\", \"phrases\": \"qdaw\"}", System.Text.Encoding.UTF8, "application/json")))
        {
            var error = await ErrorOf(response, HttpStatusCode.BadRequest);
            Assert.Contains("'phrases' must be a list of strings", error);
            Assert.DoesNotContain("System.", error);
        }
    }

    [Fact]
    public async Task Phrase_of_only_unknown_tokens_carries_a_warning_in_the_response()
    {
        using var response = await Client.PostAsJsonAsync("/api/ground", new { sample = "shapes-3", phrases = new[] { "zzzz", "qdaw" } });
        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
        var results = (await Json(response)).GetProperty("results").EnumerateArray().ToList();
        Assert.Contains("[UNK]", Assert.Single(results[0].GetProperty("warnings").EnumerateArray()).GetString());
        Assert.Empty(results[1].GetProperty("warnings").EnumerateArray());
    }

    [Fact]
    public async Task Unknown_overlay_is_404()
    {
        using var response = await Client.GetAsync("/api/overlay/00000000000000000000000000000000");
        await ErrorOf(response, HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task Healthz_and_model_describe_the_server()
    {
        var health = await Client.GetFromJsonAsync<JsonElement>("/healthz");
        Assert.Equal("ok", health.GetProperty("status").GetString());
        Assert.Equal(ServeOptions.DefaultMaxConcurrency, health.GetProperty("maxConcurrency").GetInt32());
        Assert.Equal(2 * ServeOptions.DefaultMaxConcurrency, health.GetProperty("maxQueue").GetInt32());

        var model = await Client.GetFromJsonAsync<JsonElement>("/api/model");
        Assert.Equal(FixtureData.PathOf("checkpoint.pth"), model.GetProperty("checkpoint").GetString());
        Assert.Equal(FixtureData.PathOf("cli/groundsharp-config.json"), model.GetProperty("config").GetString());
        Assert.False(model.GetProperty("untrained").GetBoolean());
        Assert.Equal(JsonValueKind.Null, model.GetProperty("notice").ValueKind);
        Assert.Equal(3, model.GetProperty("gradcamLayer").GetInt32());
        Assert.Equal(256, model.GetProperty("imageRes").GetInt32());
        Assert.Equal(2000, model.GetProperty("vocabulary").GetProperty("size").GetInt32());
        Assert.Equal(FixtureServer.UploadLimit, model.GetProperty("limits").GetProperty("maxUploadBytes").GetInt64());
        Assert.True(model.GetProperty("parameters").GetInt64() > 1_000_000);
    }

    [Fact]
    public async Task Page_script_and_samples_are_served_from_the_assembly()
    {
        using var page = await Client.GetAsync("/");
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Equal("text/html", page.Content.Headers.ContentType?.MediaType);
        var html = await page.Content.ReadAsStringAsync();
        Assert.Contains("<script src=\"/app.js\"", html);
        Assert.DoesNotContain("https://", html);
        Assert.Contains("default-src 'self'", page.Headers.GetValues("Content-Security-Policy").Single());
        using (var script = await Client.GetAsync("/app.js")) Assert.Equal(HttpStatusCode.OK, script.StatusCode);
        using (var style = await Client.GetAsync("/app.css")) Assert.Equal(HttpStatusCode.OK, style.StatusCode);

        var samples = await Client.GetFromJsonAsync<JsonElement>("/api/samples");
        Assert.Equal(SampleImages.All.Count, samples.GetArrayLength());
        foreach (var sample in samples.EnumerateArray())
        {
            var bytes = await Client.GetByteArrayAsync(sample.GetProperty("url").GetString());
            var image = ImageLoader.Load(bytes, "sample");
            Assert.True(image.Width > 0 && image.Height > 0);
            Assert.NotEmpty(sample.GetProperty("phrases").EnumerateArray());
        }
        using var missing = await Client.GetAsync("/samples/none.png");
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
    }
}
