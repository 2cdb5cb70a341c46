// "Copier" buttons: copy the text of the element named by data-copy (the form still shows the
// text, selectable, without JavaScript).
document.addEventListener("click", function (event) {
  var button = event.target.closest("button[data-copy]");
  if (!button) return;
  var source = document.getElementById(button.dataset.copy);
  if (!source) return;
  navigator.clipboard.writeText(source.value || source.textContent).then(function () {
    var status = document.getElementById(button.dataset.copy + "-status");
    if (status) status.textContent = "Copié dans le presse-papiers.";
  });
});
